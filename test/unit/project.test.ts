// A server given by UUID is fetched directly, and an admin login sees every project's servers so:
// each mode that takes `instance` must refuse one of another project before anything is changed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runMode } from '../../src/modes/run.ts';
import type { Settings } from '../../src/settings/settings.ts';
import { failed, Local, selection } from '../support/in-process.ts';

const OTHER_PROJECT = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';

const cases: [string, (local: Local, id: string) => Settings][] = [
  ['create', (local, id) => local.createSettings({ servers: selection(id), stopInstance: true })],
  ['restore', (local, id) => local.restoreSettings({ servers: selection(id), snapshotBefore: true })],
  ['delete', (local, id) => local.deleteSettings({ imageId: 'e30f3c46-9743-46a5-bf50-6ddf396c50fb' }, { instance: id })],
  ['prune', (local, id) => local.pruneSettings({}, { instance: id })],
];

describe('a server of another project, given by UUID: refused before anything is changed (an admin login sees it)', () => {
  for (const [mode, settings] of cases) {
    it(`mode ${mode}`, async (t) => {
      const local = await Local.start(t);
      const theirs = local.server({ name: 'osl-test-server', projectId: OTHER_PROJECT });
      const { message } = failed(await runMode(local.client(), settings(local, theirs.id)));
      assert.match(
        message,
        new RegExp(
          `^instance: instance osl-test-server \\(${theirs.id}\\) belongs to project ${OTHER_PROJECT}, not to this one \\(${local.lc.demo.projectId}\\)`,
        ),
      );
      assert.deepEqual(local.sent(), ['POST /v3/auth/tokens', `GET /servers/${theirs.id}`], 'nothing else is looked up or sent');
    });
  }

  it('a server Nova shows with no project at all is refused too', async (t) => {
    const local = await Local.start(t);
    const theirs = local.server({ projectId: null });
    assert.match(
      failed(await runMode(local.client(), local.restoreSettings({ servers: selection(theirs.id) }))).message,
      /^instance: instance web .* belongs to project \(none shown\)/,
    );
    assert.deepEqual(local.sent(), ['POST /v3/auth/tokens', `GET /servers/${theirs.id}`]);
  });
});
