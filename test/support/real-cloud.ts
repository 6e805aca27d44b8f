// The real cloud the real tier, the contract's real target and the benchmark run against: its
// configuration, the action's inputs for it, a session of the checking client (openstack.ts), and
// the cleanup of what a run made.
//
// The cloud comes from the openrc variables (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD,
// OS_PROJECT_ID / OS_PROJECT_NAME, OS_USER_DOMAIN_NAME, OS_PROJECT_DOMAIN_NAME,
// OS_APPLICATION_CREDENTIAL_ID / _SECRET, OS_REGION_NAME, OS_INTERFACE) plus:
//   OSA_E2E_INSTANCE         server to snapshot in OS_REGION_NAME (must exist, image-backed)
//   OSA_E2E_REGION2          a second region (optional elsewhere; SBG5 on the loopback cloud)
//   OSA_E2E_INSTANCE2        server in that region (default: OSA_E2E_INSTANCE)
//   OSA_E2E_VOLUME_INSTANCE  a volume-backed server in OS_REGION_NAME (optional elsewhere)
//   OSA_E2E_APPCRED_ID / OSA_E2E_APPCRED_SECRET  an application credential of the same project,
//                            when OS_* holds a password (so both kinds can be tested)
//   OSA_E2E_LOOPBACK=0|1     override the loopback detection (by OS_AUTH_URL)
// Without OS_AUTH_URL (or with the loopback's own), the defaults are the loopback cloud of
// ../shared/openstack-loopback: user demo, regions GRA7 and SBG5, osl-test-server, osl-volume-server.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Interface } from '../../src/openstack/catalog.ts';
import { OpenStack, RUN_PROPERTY, type AppCredAuth, type Credentials, type Image, type PasswordAuth } from './openstack.ts';
import { poll } from './poll.ts';
import { errorsOf, type ActionRun } from './run-action.ts';

const LOOPBACK_AUTH_URL = 'http://127.0.0.1:5000/v3';
const INTERFACES: readonly Interface[] = ['public', 'internal', 'admin'];

export interface RealConfig {
  authUrl: string;
  /** The loopback cloud of ../shared/openstack-loopback (its knobs and cheap servers are available). */
  loopback: boolean;
  /** The loopback's scripts directory (start.sh, stop.sh), when it is there. */
  oslDir?: string;
  /** The loopback's state directory (/tmp/osl). */
  oslState: string;
  region: string;
  region2?: string;
  instance: string;
  instance2?: string;
  volumeInstance?: string;
  iface: Interface;
  password?: PasswordAuth;
  appcred?: AppCredAuth;
  /** Unique to this run of the tier: in every name and in RUN_PROPERTY. */
  tag: string;
}

const env = (...names: string[]): string | undefined => names.map((n) => process.env[n]?.trim()).find((v) => v);

export function loadConfig(): RealConfig {
  const authUrl = (env('OS_AUTH_URL') ?? LOOPBACK_AUTH_URL).replace(/\/+$/, '');
  // OSA_E2E_LOOPBACK=0 treats even the loopback cloud as foreign (to try the skips).
  const forced = env('OSA_E2E_LOOPBACK');
  const loopback = forced ? forced === '1' : /^https?:\/\/(127\.0\.0\.1|localhost):5000(\/v3)?$/.test(authUrl);
  const oslState = env('OSL') ?? '/tmp/osl';
  const oslDirCandidate = env('OSL_DIR') ?? resolve(import.meta.dirname, '../../../shared/openstack-loopback');
  const oslDir = loopback && existsSync(resolve(oslDirCandidate, 'start.sh')) ? oslDirCandidate : undefined;

  let password: PasswordAuth | undefined;
  const username = env('OS_USERNAME') ?? (loopback ? 'demo' : undefined);
  const secret = env('OS_PASSWORD') ?? (loopback ? 'demo' : undefined);
  if (username && secret) {
    const projectId = env('OS_PROJECT_ID', 'OS_TENANT_ID');
    password = {
      username,
      password: secret,
      userDomainName: env('OS_USER_DOMAIN_NAME') ?? 'Default',
      projectId,
      projectName: env('OS_PROJECT_NAME', 'OS_TENANT_NAME') ?? (loopback && !projectId ? 'demo' : undefined),
      projectDomainName: env('OS_PROJECT_DOMAIN_NAME') ?? 'Default',
    };
  }

  let appcred: AppCredAuth | undefined;
  const acId = env('OSA_E2E_APPCRED_ID', 'OS_APPLICATION_CREDENTIAL_ID');
  const acSecret = env('OSA_E2E_APPCRED_SECRET', 'OS_APPLICATION_CREDENTIAL_SECRET');
  if (acId && acSecret) appcred = { id: acId, secret: acSecret };
  else if (loopback && existsSync(`${oslState}/appcred-demo.json`)) {
    const file = JSON.parse(readFileSync(`${oslState}/appcred-demo.json`, 'utf8')) as { id: string; secret: string };
    appcred = { id: file.id, secret: file.secret };
  }

  const instance = env('OSA_E2E_INSTANCE') ?? (loopback ? 'osl-test-server' : undefined);
  if (!instance) throw new Error('OSA_E2E_INSTANCE: required on a cloud other than the loopback one (an existing image-backed server to snapshot)');
  const region2 = env('OSA_E2E_REGION2') ?? (loopback ? 'SBG5' : undefined);
  const iface = INTERFACES.find((i) => i === (env('OS_INTERFACE') ?? 'public').replace(/URL$/i, '').toLowerCase());
  if (!iface) throw new Error(`OS_INTERFACE: one of ${INTERFACES.join(', ')}`);
  return {
    authUrl: /\/v3$/.test(authUrl) ? authUrl : `${authUrl}/v3`,
    loopback,
    oslDir,
    oslState,
    region: env('OS_REGION_NAME') ?? 'GRA7',
    region2,
    instance,
    instance2: region2 ? (env('OSA_E2E_INSTANCE2') ?? instance) : undefined,
    volumeInstance: env('OSA_E2E_VOLUME_INSTANCE') ?? (loopback ? 'osl-volume-server' : undefined),
    iface,
    password,
    appcred,
    tag: `osa-real-${new Date().toISOString().slice(11, 19).replace(/:/g, '')}-${randomBytes(3).toString('hex')}`,
  };
}

/** Action inputs that authenticate with a password (no OS_* needed). */
export function passwordInputs(cfg: RealConfig): Record<string, string> {
  const p = cfg.password!;
  return {
    'auth-url': cfg.authUrl,
    username: p.username,
    password: p.password,
    'user-domain-name': p.userDomainName,
    ...(p.projectId ? { 'project-id': p.projectId } : { 'project-name': p.projectName! }),
    'project-domain-name': p.projectDomainName,
  };
}

/** Action inputs that authenticate with the application credential. */
export function appcredInputs(cfg: RealConfig): Record<string, string> {
  return { 'auth-url': cfg.authUrl, 'application-credential-id': cfg.appcred!.id, 'application-credential-secret': cfg.appcred!.secret };
}

/** Auth inputs with whatever credential the cloud gave (password first). */
export const authInputs = (cfg: RealConfig) => (cfg.password ? passwordInputs(cfg) : appcredInputs(cfg));

/** The end of a run's log, for an assertion's message. */
export const runLog = (run: ActionRun) =>
  `exit ${run.code}\n--- stdout\n${run.stdout
    .split('\n')
    .filter((l) => !l.startsWith('::debug::'))
    .slice(-60)
    .join('\n')}\n--- stderr\n${run.stderr.slice(-3000)}`;

/** The run succeeded, with no ::error:: (else its log in the message). */
export function succeeded(run: ActionRun): void {
  assert.equal(run.code, 0, `the action failed:\n${runLog(run)}`);
  assert.deepEqual(errorsOf(run), []);
}

/** A session of the checking client on this cloud, as the configured user (or `credentials`). */
export function connect(cfg: RealConfig, credentials: Credentials = cfg.password ? { password: cfg.password } : { appcred: cfg.appcred! }): Promise<OpenStack> {
  return OpenStack.login(cfg.authUrl, credentials, { region: cfg.region, iface: cfg.iface, tag: cfg.tag });
}

/** The loopback cloud's admin (project admin), from its openrc $OSL/admin.env. */
export function adminCredentials(cfg: RealConfig): { password: PasswordAuth } {
  const vars = Object.fromEntries(
    [...readFileSync(join(cfg.oslState, 'admin.env'), 'utf8').matchAll(/^export (OS_\w+)=(.*)$/gm)].map((m) => [m[1], m[2]!.replace(/^"(.*)"$/, '$1')]),
  );
  return {
    password: {
      username: vars.OS_USERNAME!,
      password: vars.OS_PASSWORD!,
      userDomainName: 'Default',
      projectName: vars.OS_PROJECT_NAME!,
      projectDomainName: 'Default',
    },
  };
}

/** The Cinder snapshot IDs named by a volume-backed snapshot image (a JSON string property). */
export function bdmSnapshotIds(image: Image): string[] {
  const raw = image.block_device_mapping;
  if (typeof raw !== 'string') return [];
  return (JSON.parse(raw) as { snapshot_id?: string | null }[]).flatMap((d) => (d.snapshot_id ? [d.snapshot_id] : []));
}

/** Only the openrc variables, as `source openrc.sh` would leave them (password if there is one). */
export function openrcEnv(cfg: RealConfig): Record<string, string> {
  const base = { OS_AUTH_URL: cfg.authUrl, OS_IDENTITY_API_VERSION: '3', OS_REGION_NAME: cfg.region, OS_INTERFACE: cfg.iface };
  if (cfg.password) {
    const p = cfg.password;
    return {
      ...base,
      OS_USERNAME: p.username,
      OS_PASSWORD: p.password,
      OS_USER_DOMAIN_NAME: p.userDomainName,
      ...(p.projectId ? { OS_PROJECT_ID: p.projectId } : { OS_PROJECT_NAME: p.projectName! }),
      OS_PROJECT_DOMAIN_NAME: p.projectDomainName,
    };
  }
  return {
    ...base,
    OS_AUTH_TYPE: 'v3applicationcredential',
    OS_APPLICATION_CREDENTIAL_ID: cfg.appcred!.id,
    OS_APPLICATION_CREDENTIAL_SECRET: cfg.appcred!.secret,
  };
}

/**
 * Remove everything this run made in a region: images carrying RUN_PROPERTY = tag (unprotected
 * first; a snapshot still being written is given time to finish), the Cinder snapshots behind
 * them, and Cinder snapshots Nova named after our images ("snapshot for <name>"). Returns what
 * it removed, for the log.
 */
export async function cleanupRegion(api: OpenStack, region: string): Promise<string[]> {
  const removed: string[] = [];
  const images = await api.images({ [RUN_PROPERTY]: api.tag, owner: api.projectId }, region);
  const volumeSnapshots = new Set<string>();
  for (const image of images) {
    for (const id of bdmSnapshotIds(image)) volumeSnapshots.add(id);
    if (image.status === 'saving') {
      // Deleting it mid-upload makes Nova's upload fail loudly; it finishes within seconds here.
      await poll(`image ${image.id} to finish saving`, async () => (await api.image(image.id, region))?.status !== 'saving', { everyMs: 500 }).catch(
        () => undefined,
      );
    }
    if (image.protected) await api.setProtected(image.id, false, region).catch(() => undefined);
    if ((await api.deleteImage(image.id, region)) === 'deleted') removed.push(`image ${image.id} (${image.name})`);
  }
  if (api.has('volume', region)) {
    for (const snapshot of await api.volumeSnapshots(region)) {
      if (snapshot.name?.startsWith(`snapshot for ${api.tag}`)) volumeSnapshots.add(snapshot.id);
    }
    for (const id of volumeSnapshots) {
      if (await api.volumeSnapshot(id, region)) {
        await api.deleteVolumeSnapshot(id, region);
        removed.push(`volume snapshot ${id}`);
      }
    }
  }
  return removed;
}

/**
 * Leftovers of earlier runs that were killed before their after hooks ran: images carrying
 * RUN_PROPERTY (any run) created more than `maxAgeMs` ago, and the Cinder snapshots Nova named
 * after them. A run of the tier takes minutes, so an hour-old one is not running any more.
 */
export async function sweepStale(api: OpenStack, region: string, maxAgeMs = 3_600_000): Promise<string[]> {
  const removed: string[] = [];
  const cutoff = Date.now() - maxAgeMs;
  const images = (await api.images({ owner: api.projectId, limit: '1000' }, region)).filter(
    (i) => typeof i[RUN_PROPERTY] === 'string' && Date.parse(i.created_at) < cutoff,
  );
  for (const image of images) {
    if (image.protected) await api.setProtected(image.id, false, region).catch(() => undefined);
    for (const id of bdmSnapshotIds(image)) await api.deleteVolumeSnapshot(id, region).catch(() => undefined);
    if ((await api.deleteImage(image.id, region)) === 'deleted') removed.push(`image ${image.id} (${image.name}, ${image.created_at})`);
  }
  if (api.has('volume', region)) {
    for (const snapshot of await api.volumeSnapshots(region)) {
      const created = snapshot.created_at;
      if (snapshot.name?.startsWith('snapshot for osa-real-') && created && Date.parse(`${created.replace(/Z?$/, 'Z')}`) < cutoff) {
        await api.deleteVolumeSnapshot(snapshot.id, region);
        removed.push(`volume snapshot ${snapshot.id} (${snapshot.name})`);
      }
    }
  }
  return removed;
}
