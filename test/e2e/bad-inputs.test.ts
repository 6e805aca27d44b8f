// The BAD-INPUT TABLE (bad-input-cases.ts), run by one loop: exit 1, one ::error:: naming the
// input and what would be valid, nothing changed in the cloud (and, for pure input errors, not a
// single request).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BAD_INPUT_CASES, runBadInput } from './bad-input-cases.ts';
import { startCloud, unique, type LocalCloud } from './harness.ts';

describe('bad inputs', { concurrency: 1 }, () => {
  let cloud: LocalCloud;
  let instance: string;
  before(async () => {
    cloud = await startCloud();
    instance = cloud.addServer({ region: 'GRA7', name: unique('web') }).name;
  });
  after(() => cloud.stop());

  test('the table has at least 20 cases across all modes', () => {
    assert.ok(BAD_INPUT_CASES.length >= 20);
    const modes = new Set(BAD_INPUT_CASES.map((c) => c.inputs({ mode: 'create' }, cloud).mode ?? 'create'));
    assert.deepEqual([...modes].sort(), ['copy', 'create', 'delete', 'prune', 'restore', 'snapshot', 'verify']);
  });

  for (const c of BAD_INPUT_CASES) {
    test(c.name, c.bug ? { todo: `action bug: ${c.bug}` } : {}, async () => {
      await runBadInput(cloud, c, instance);
    });
  }
});
