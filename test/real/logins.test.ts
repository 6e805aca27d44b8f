// Real tier: the logins of issue 13 against a real Keystone. A clouds.yaml with its secure.yaml
// (written to a temp dir, found through OS_CLIENT_CONFIG_FILE / OS_CLIENT_SECURE_FILE), an input
// overriding the file's region, and a token login with a token the tier asked Keystone for.
// Results are checked through Glance. What it creates: one snapshot of OSA_E2E_INSTANCE and one
// tiny image, both tagged osa_e2e_run=<tag> and removed by the after hook.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { errorsOf, runAction, type ActionRun } from '../support/run-action.ts';
import { Api, cleanupRegion, loadConfig, RUN_PROPERTY, type Server } from './cloud.ts';

const cfg = loadConfig();
const R1 = cfg.region;
const TAG = cfg.tag;
const SLOW = { timeout: 240_000 };

let api: Api;
let server: Server;
let dir = '';

const log = (run: ActionRun) => `exit ${run.code}\n--- stdout\n${run.stdout.split('\n').slice(-40).join('\n')}\n--- stderr\n${run.stderr.slice(-2000)}`;
function succeeded(run: ActionRun): void {
  assert.equal(run.code, 0, `the action failed:\n${log(run)}`);
  assert.deepEqual(errorsOf(run), []);
}

/** The cloud's auth section, split as people do: the secret in secure.yaml, the rest in clouds.yaml. */
function authSections(): { open: Record<string, string>; secret: Record<string, string>; authType?: string } {
  if (cfg.password) {
    const p = cfg.password;
    const project: Record<string, string> = p.projectId ? { project_id: p.projectId } : { project_name: p.projectName!, project_domain_name: p.projectDomainName };
    return { open: { auth_url: cfg.authUrl, username: p.username, user_domain_name: p.userDomainName, ...project }, secret: { password: p.password } };
  }
  return { open: { auth_url: cfg.authUrl, application_credential_id: cfg.appcred!.id }, secret: { application_credential_secret: cfg.appcred!.secret }, authType: 'v3applicationcredential' };
}

before(async () => {
  api = await Api.connect(cfg);
  server = await api.serverNamed(R1, cfg.instance);
  dir = mkdtempSync(join(tmpdir(), 'osa-real-logins-'));
  const { open, secret, authType } = authSections();
  // The file's region does not exist: only the region input can make the run work.
  const cloud = { auth: open, region_name: 'NOWHERE1', interface: cfg.iface, ...(authType ? { auth_type: authType } : {}) };
  writeFileSync(join(dir, 'clouds.yaml'), stringify({ clouds: { 'osa-real': cloud, 'osa-other': { auth: { auth_url: cfg.authUrl } } } }));
  writeFileSync(join(dir, 'secure.yaml'), stringify({ clouds: { 'osa-real': { auth: secret } } }));
});

after(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (!api) return;
  const removed = await cleanupRegion(api, R1);
  console.log(`# cleanup ${R1}: ${removed.length ? removed.join(', ') : 'nothing left'}`);
  assert.deepEqual((await api.listImages(R1, { [RUN_PROPERTY]: TAG, owner: api.projectId })).map((i) => i.id), [], `images of this run left in ${R1}`);
});

describe('logins', () => {
  test('clouds.yaml with secure.yaml: the cloud input logs in; the region input wins over the file’s', SLOW, async () => {
    const env = { OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml'), OS_CLIENT_SECURE_FILE: join(dir, 'secure.yaml') };
    const run = await runAction(
      { mode: 'create', cloud: 'osa-real', region: R1, instance: server.id, 'snapshot-name': `${TAG}-{instance}-clouds`, metadata: `${RUN_PROPERTY}=${TAG}` },
      env,
    );
    succeeded(run);
    const { secret } = authSections();
    assert.ok(run.stdout.split('\n').includes(`::add-mask::${Object.values(secret)[0]}`), 'the secret of secure.yaml is masked');
    const image = await api.getImage(R1, run.outputs['image-id']!);
    assert.ok(image, `image ${run.outputs['image-id']} is not in Glance of ${R1}`);
    assert.equal(image.status, 'active');
    assert.equal(image.owner, api.projectId);
    assert.equal(image.instance_uuid, server.id);
    assert.equal(image.name, `${TAG}-${server.name}-clouds`);
  });

  test('clouds.yaml without the cloud asked for: an input error listing the clouds there, before any request', async () => {
    const run = await runAction({ mode: 'create', cloud: 'osa-prod', region: R1, instance: server.id }, { OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml') });
    assert.equal(run.code, 1, log(run));
    assert.match(errorsOf(run).join('\n'), /cloud: no cloud "osa-prod" in .*clouds\.yaml; it has: osa-real, osa-other/);
  });

  test('a token login: the tier’s own token, rescoped to the project, deletes an image (gone from Glance)', SLOW, async () => {
    const seeded = await api.seedImage(R1, `${TAG}-token-login`, { [RUN_PROPERTY]: TAG, managed_by: 'openstack-snapshot-action' }, false);
    const run = await runAction({ mode: 'delete', 'auth-url': cfg.authUrl, token: api.token, 'project-id': api.projectId, region: R1, 'image-id': seeded.id });
    succeeded(run);
    assert.ok(run.stdout.split('\n').includes(`::add-mask::${api.token}`), 'the token is masked');
    assert.match(run.stdout, /as a token \(/);
    assert.equal(await api.getImage(R1, seeded.id), undefined, 'the image is gone from Glance');
  });
});
