// A server given by UUID is fetched directly, and an admin login sees every project's servers so:
// each mode that takes `instance` must refuse one of another project before anything is changed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import nock from 'nock';
import { runMode } from '../../src/modes/run.ts';
import type { Settings } from '../../src/settings/settings.ts';
import {
  COMPUTE_ORIGIN,
  COMPUTE_PATH,
  createSettings,
  deleteSettings,
  failed,
  mockAuth,
  newCloud,
  PROJECT_ID,
  pruneSettings,
  restoreSettings,
  selection,
  serverBody,
  unmatched,
  useNock,
} from '../support/nock.ts';

useNock();

const THEIRS = 'a0b1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d';
const OTHER_PROJECT = '0f1e2d3c4b5a69788796a5b4c3d2e1f0';

const cases: [string, Settings][] = [
  ['create', createSettings({ servers: selection(THEIRS), stopInstance: true })],
  ['restore', restoreSettings({ servers: selection(THEIRS), snapshotBefore: true })],
  ['delete', deleteSettings({ instance: THEIRS })],
  ['prune', pruneSettings({ instance: THEIRS })],
];

describe('a server of another project, given by UUID: refused before anything is changed (an admin login sees it)', () => {
  for (const [mode, settings] of cases) {
    it(`mode ${mode}`, async () => {
      mockAuth();
      nock(COMPUTE_ORIGIN)
        .get(`${COMPUTE_PATH}/servers/${THEIRS}`)
        .reply(200, { server: serverBody({ id: THEIRS, name: 'osl-test-server', projectId: OTHER_PROJECT }) });
      const { message } = failed(await runMode(newCloud(), settings));
      assert.match(
        message,
        new RegExp(`^instance: instance osl-test-server \\(${THEIRS}\\) belongs to project ${OTHER_PROJECT}, not to this one \\(${PROJECT_ID}\\)`),
      );
      assert.deepEqual(unmatched, [], 'nothing else is looked up or sent');
    });
  }

  it('a server Nova shows with no project at all is refused too', async () => {
    mockAuth();
    const { tenant_id: _, ...body } = serverBody({ id: THEIRS });
    nock(COMPUTE_ORIGIN).get(`${COMPUTE_PATH}/servers/${THEIRS}`).reply(200, { server: body });
    assert.match(
      failed(await runMode(newCloud(), restoreSettings({ servers: selection(THEIRS) }))).message,
      /^instance: instance web .* belongs to project \(none shown\)/,
    );
    assert.deepEqual(unmatched, []);
  });
});
