// The local cloud over HTTPS, its certificate signed by a CA made for this test and trusted by
// nothing else: the action trusts it only through cacert (or clouds.yaml's cacert, relative to the
// step's folder), for Keystone and for every endpoint of the catalog; insecure skips the check, and
// says so on every run. Where cacert comes from (OS_CACERT too) and the files it refuses: unit/tls.test.ts.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTestCa } from '../support/tls.ts';
import { assertFailure, assertSuccess, describeRun, passwordInputs, snapshotsOf, startCloud, step, unique, type LocalCloud } from './harness.ts';

describe('e2e: a cloud whose certificate a private CA signed', () => {
  let cloud: LocalCloud;
  let folder: string;
  let caFile: string;
  before(async () => {
    const ca = makeTestCa();
    cloud = await startCloud({ tls: { key: ca.key, cert: ca.cert } });
    folder = mkdtempSync(join(tmpdir(), 'osa-tls-'));
    caFile = join(folder, 'ca.pem');
    writeFileSync(caFile, ca.caPem);
  });
  after(async () => {
    await cloud.stop();
    rmSync(folder, { recursive: true, force: true });
  });

  /** A create of a new server: Keystone, then Nova and Glance from the catalog, all over HTTPS. */
  async function create(inputs: Record<string, string>, env: Record<string, string> = {}, cwd?: string) {
    const server = cloud.addServer({ region: 'GRA7', name: unique('tls') });
    const s = await step(cloud, { ...passwordInputs(cloud), instance: server.id, ...inputs }, env, { cwd });
    return { s, server };
  }

  const warnings = (s: Awaited<ReturnType<typeof create>>['s']) => s.run.stdout.split('\n').filter((l) => l.startsWith('::warning'));

  test('the catalog is HTTPS too', () => {
    assert.match(cloud.authUrl, /^https:\/\/127\.0\.0\.1:\d+\//);
  });

  test('without cacert: the run fails before sending anything, naming the host, the reason and cacert', async () => {
    const { s, server } = await create({});
    assertFailure(s, [
      new URL(cloud.url).origin,
      'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
      "give the cloud's CA certificates (PEM) in the cacert input (or OS_CACERT",
    ]);
    assert.deepEqual(s.records, [], 'no request reached the cloud');
    assert.deepEqual(snapshotsOf(cloud, server), []);
  });

  test('cacert: every request trusts the CA, and the snapshot is made', async () => {
    const { s, server } = await create({ cacert: caFile });
    assertSuccess(s);
    assert.deepEqual(new Set(s.records.map((r) => r.service)), new Set(['identity', 'compute', 'image']), describeRun(s));
    assert.equal(snapshotsOf(cloud, server).length, 1);
    assert.equal(s.run.outputs['snapshot-status'], 'active');
    assert.deepEqual(warnings(s), []);
  });

  test("clouds.yaml's cacert of the cloud, relative to the step's working directory", async () => {
    const yaml = join(folder, 'clouds.yaml');
    writeFileSync(yaml, 'clouds:\n  private:\n    cacert: ca.pem\n');
    const { s } = await create({ cloud: 'private' }, { OS_CLIENT_CONFIG_FILE: yaml }, folder);
    assertSuccess(s);
  });

  test('insecure: the run succeeds, with a warning that anyone in the path can read the password and tokens', async () => {
    const { s, server } = await create({ insecure: 'true' });
    assertSuccess(s);
    assert.equal(snapshotsOf(cloud, server).length, 1);
    const [warning, ...more] = warnings(s);
    assert.match(
      warning ?? '',
      /insecure: TLS certificates are not verified, so anyone in the network path can pose as the cloud and read the password, secrets and tokens sent to it/,
      describeRun(s),
    );
    assert.deepEqual(more, []);
  });
});
