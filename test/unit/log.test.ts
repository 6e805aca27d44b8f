import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { join, neutralise, t } from '../../src/lib/log.ts';

describe('log: text from the cloud is data', () => {
  it('shows line breaks, controls, separators and bidi overrides escaped, and defuses the legacy ##[ prefix', () => {
    assert.equal(neutralise('a\nb\rc\u2028d\u0007e\u202ef ##[error]g'), 'a\\nb\\rc\\u2028d\\u0007e\\u202ef #\\u0023[error]g');
  });

  it('is idempotent: text escaped once is not changed again (messages that embed messages)', () => {
    for (const raw of ['x\n::error::y', '###[z', '##\n[w']) assert.equal(neutralise(neutralise(raw)), neutralise(raw));
  });

  it('t escapes the values, never the literal parts; a Text value is kept as built', () => {
    const name = 'web\n::stop-commands::zzz';
    const inner = t`image ${name}`;
    assert.equal(
      String(t`Deleted ${inner}\nnext line: ${new Error('boom\r::warning::x')}`),
      'Deleted image web\\n::stop-commands::zzz\nnext line: boom\\r::warning::x',
    );
    assert.equal(String(join([t`a ${'1\n2'}`, t`b`], '\n')), 'a 1\\n2\nb');
  });
});
