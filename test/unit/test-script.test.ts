// `npm test` on an older Node, or after `npm ci --ignore-scripts` (the `node` devDependency's
// install script did not run, so npm finds the machine's Node): one line that says what to do.
// Needs an older Node on the PATH (the machine's own, outside node_modules); skipped without one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, describe, it } from 'node:test';

import { ROOT } from '../support/workflows.ts';

const older = (process.env.PATH ?? '')
  .split(delimiter)
  .filter((dir) => dir && !dir.includes('node_modules'))
  .map((dir) => join(dir, 'node'))
  .find((node) => {
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' });
    return version.status === 0 && !version.stdout.startsWith('v24');
  });

const dir = mkdtempSync(join(tmpdir(), 'osa-test-script-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** scripts/test.mjs run by the older Node in a project directory as `setup` leaves it. */
function runIn(setup: (project: string) => void): { status: number | null; lines: string[] } {
  const project = mkdtempSync(join(dir, 'p-'));
  setup(project);
  const run = spawnSync(older!, [join(ROOT, 'scripts/test.mjs')], { cwd: project, encoding: 'utf8' });
  return { status: run.status, lines: `${run.stdout}${run.stderr}`.trim().split('\n') };
}

describe('npm test on another Node says in one line what to do', { skip: older ? false : 'no Node other than 24 on the PATH' }, () => {
  it('before npm ci: run npm ci', () => {
    const { status, lines } = runIn(() => {});
    assert.equal(status, 1);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /run 'npm ci' first/);
  });

  it('after npm ci --ignore-scripts (no Node 24 in node_modules): run npm rebuild node', () => {
    const { status, lines } = runIn((project) => mkdirSync(join(project, 'node_modules/node'), { recursive: true }));
    assert.equal(status, 1);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /run 'npm rebuild node', then 'npm test'/);
  });

  it('run by hand with another Node although npm ci installed Node 24: run it as npm test', () => {
    const { status, lines } = runIn((project) => {
      mkdirSync(join(project, 'node_modules/node/bin'), { recursive: true });
      writeFileSync(join(project, 'node_modules/node/bin/node'), '');
    });
    assert.equal(status, 1);
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /run it as 'npm test'/);
  });
});
