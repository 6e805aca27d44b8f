// The real cloud for the benchmark: the loopback OpenStack (../shared/openstack-loopback) as user
// demo, behind the counting proxy, with the benchmark's own server `osa-bench-server` in GRA7 (so
// the e2e tier's snapshots of osl-test-server never collide with ours: Nova answers 409 to a
// second snapshot of a busy server).
import { existsSync, readFileSync } from 'node:fs';
import { currentMode } from '../../test/real/loopback.ts';
import type { RealConfig } from '../../test/real/cloud.ts';
import { now, sleep } from './clock.ts';
import { Api, pool, readOpenRc, type OpenRc } from './openstack.ts';
import { CountingProxy, type Upstream } from './proxy.ts';

export const SERVER_NAME = 'osa-bench-server';
export const REGION = 'GRA7';
/** Every image the benchmark makes on the real cloud carries this property (cleanup finds them). */
export const RUN_PROPERTY = 'osa_bench_run';

export interface RealCloud {
  rc: OpenRc;
  proxy: CountingProxy;
  /** Through the proxy. */
  api: Api;
  authUrl: string;
  serverId: string;
  serverCreated: boolean;
  /** OS_* for the action and the CLI, through the proxy. */
  osEnv: Record<string, string>;
  tag: string;
  oslState: string;
}

export function oslState(): string {
  return process.env.OSL ?? '/tmp/osl';
}

export function realAvailable(): { ok: boolean; why?: string } {
  const env = `${oslState()}/demo.env`;
  if (!existsSync(env)) return { ok: false, why: `${env} is missing (is the loopback cloud set up? see ../shared/openstack-loopback)` };
  if (!existsSync('/usr/bin/openstack')) return { ok: false, why: '/usr/bin/openstack is missing' };
  return { ok: true };
}

/** The snapshot mode GRA7's nova-compute runs in: 'queued' means snapshots never finish. */
export function computeMode(region = REGION): string | undefined {
  return currentMode({ oslState: oslState() } as RealConfig, region);
}

export async function openReal(tag: string, log: (s: string) => void): Promise<RealCloud> {
  const rc = readOpenRc(`${oslState()}/demo.env`);
  // Every host:port of the catalog gets a listener of its own.
  const direct = new Api(rc);
  await direct.authenticate();
  const seen = new Map<string, Upstream>();
  const add = (url: string, service: string) => {
    const u = new URL(url);
    const key = `${u.hostname}:${u.port}`;
    if (!seen.has(key)) seen.set(key, { service, host: u.hostname, port: Number(u.port || 80) });
  };
  add(rc.OS_AUTH_URL, 'identity');
  for (const entry of direct.catalog) {
    const service = entry.type === 'volumev3' || entry.type === 'block-storage' ? 'volume' : entry.type;
    for (const e of entry.endpoints) add(e.url, service);
  }
  const proxy = await CountingProxy.start([...seen.values()]);
  const authUrl = proxy.rewrite(rc.OS_AUTH_URL);
  const api = new Api(rc, authUrl);
  await api.authenticate();
  const osEnv: Record<string, string> = {
    OS_AUTH_URL: authUrl,
    OS_IDENTITY_API_VERSION: '3',
    OS_USERNAME: rc.OS_USERNAME,
    OS_PASSWORD: rc.OS_PASSWORD,
    OS_PROJECT_NAME: rc.OS_PROJECT_NAME,
    OS_USER_DOMAIN_NAME: rc.OS_USER_DOMAIN_NAME || 'Default',
    OS_PROJECT_DOMAIN_NAME: rc.OS_PROJECT_DOMAIN_NAME || 'Default',
    OS_REGION_NAME: REGION,
    OS_INTERFACE: rc.OS_INTERFACE || 'public',
  };
  const { id, created } = await ensureServer(api, log);
  return { rc, proxy, api, authUrl, serverId: id, serverCreated: created, osEnv, tag, oslState: oslState() };
}

/** osa-bench-server in GRA7: reused when present, else booted (networks none, microversion 2.37). */
async function ensureServer(api: Api, log: (s: string) => void): Promise<{ id: string; created: boolean }> {
  const existing = await api.serverByName(SERVER_NAME);
  if (existing && existing.status !== 'ERROR') {
    log(`real cloud: reusing ${SERVER_NAME} (${existing.id})`);
    await api.untilIdle(existing.id);
    return { id: existing.id, created: false };
  }
  if (existing) {
    log(`real cloud: ${SERVER_NAME} is in ERROR: deleting it and booting another`);
    await api.deleteServer(existing.id);
    await sleep(3000);
  }
  const [image] = await api.images({ name: 'osl-tiny-image' });
  if (!image) throw new Error('the public image osl-tiny-image is missing');
  const t = now();
  const id = await api.createServer(SERVER_NAME, image.id, 'osl-tiny');
  await api.untilIdle(id);
  log(`real cloud: booted ${SERVER_NAME} (${id}) in ${((now() - t) / 1000).toFixed(1)} s`);
  return { id, created: true };
}

/** Delete whatever this run left (images with RUN_PROPERTY=tag) and, unless kept, the server. */
export async function closeReal(real: RealCloud, keepServer: boolean, log: (s: string) => void): Promise<void> {
  try {
    await real.api.authenticate();
    const left = await real.api.images({ [RUN_PROPERTY]: real.tag, owner: real.api.projectId });
    if (left.length) {
      await pool(left, 8, (image) => real.api.deleteImage(image.id));
      log(`real cloud: deleted ${left.length} leftover image(s) of this run`);
    }
    if (!keepServer) {
      await real.api.untilIdle(real.serverId, 60_000).catch(() => undefined);
      await real.api.deleteServer(real.serverId);
      log(`real cloud: deleted ${SERVER_NAME}`);
    }
  } finally {
    await real.proxy.stop();
  }
}

/**
 * CPU seconds a loopback service has used so far (utime + stime of its process, from /proc; the
 * PID file is checked against OSL_SERVICE like stop.sh does). undefined when it cannot be read.
 */
export function serviceCpuSeconds(service: string): number | undefined {
  try {
    const pid = readFileSync(`${oslState()}/run/${service}.pid`, 'utf8').trim();
    if (!readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`OSL_SERVICE=${service}`)) return undefined;
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 of proc(5) (utime, stime), counted from after "(comm)": indexes 11 and 12.
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/** Busy fraction (CPU seconds / wall seconds) of some services while `fn` runs. */
export async function measureServiceCpu<T>(services: string[], fn: () => Promise<T>): Promise<{ value: T; busy: Record<string, number> }> {
  const before = Object.fromEntries(services.map((s) => [s, serviceCpuSeconds(s)]));
  const t = now();
  const value = await fn();
  const wall = (now() - t) / 1000;
  const busy: Record<string, number> = {};
  for (const s of services) {
    const a = before[s];
    const b = serviceCpuSeconds(s);
    if (a !== undefined && b !== undefined) busy[s] = (b - a) / wall;
  }
  return { value, busy };
}
