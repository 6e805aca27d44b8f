import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { provenanceProperties, readProvenance } from '../../src/lib/provenance.ts';

describe('provenance: from the runner’s GITHUB_* variables', () => {
  it('reads the run, and builds its URL on the given server (GHES too)', () => {
    const p = readProvenance({
      GITHUB_REPOSITORY: 'octo/app',
      GITHUB_SHA: 'abc123',
      GITHUB_RUN_ID: '42',
      GITHUB_RUN_ATTEMPT: '2',
      GITHUB_WORKFLOW: 'deploy',
      GITHUB_REF_NAME: 'main',
      GITHUB_SERVER_URL: 'https://ghe.example',
    });
    assert.deepEqual(p, {
      repository: 'octo/app',
      sha: 'abc123',
      runId: '42',
      runAttempt: '2',
      workflow: 'deploy',
      refName: 'main',
      runUrl: 'https://ghe.example/octo/app/actions/runs/42',
    });
    assert.equal(readProvenance({ GITHUB_REPOSITORY: 'octo/app', GITHUB_RUN_ID: '7' }).runUrl, 'https://github.com/octo/app/actions/runs/7');
  });

  it('outside GitHub Actions: nothing, and no properties', () => {
    const p = readProvenance({});
    assert.deepEqual(Object.values(p).filter(Boolean), []);
    assert.deepEqual(provenanceProperties(p), {});
  });
});
