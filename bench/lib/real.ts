// The real cloud for the benchmark: the loopback OpenStack (../shared/openstack-loopback) as user
// demo, behind the counting proxy, checked and driven through the tests' checking client
// (test/support/openstack.ts), with the benchmark's own server `osa-bench-server` in GRA7 so that the
// e2e tier's snapshots of osl-test-server never collide with ours (Nova answers 409 to a second
// snapshot of a busy server).
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { currentMode } from '../../test/support/loopback.ts';
import { isIdle, type OpenStack } from '../../test/support/openstack.ts';
import { poll } from '../../test/support/poll.ts';
import { cleanupRegion, connect, loadConfig, openrcEnv, type RealConfig } from '../../test/support/real-cloud.ts';
import { now } from './clock.ts';
import { CountingProxy, type Upstream } from './proxy.ts';

export const SERVER_NAME = 'osa-bench-server';
export const REGION = 'GRA7';

export interface RealCloud {
  /** The cloud as seen through the proxy (authUrl rewritten); its tag marks every image we make. */
  cfg: RealConfig;
  proxy: CountingProxy;
  api: OpenStack;
  serverId: string;
  /** OS_* for the action and the CLI, through the proxy. */
  osEnv: Record<string, string>;
}

export function realAvailable(): string | undefined {
  const cfg = loadConfig();
  if (!cfg.loopback || !existsSync(`${cfg.oslState}/demo.env`))
    return `${cfg.oslState}/demo.env is missing (is the loopback cloud up? see ../shared/openstack-loopback)`;
  if (!existsSync('/usr/bin/openstack')) return '/usr/bin/openstack is missing';
  return undefined;
}

/** GRA7's nova-compute snapshot mode: in 'queued' (the e2e tier switches it briefly) snapshots never finish. */
export function computeMode(): string | undefined {
  return currentMode(loadConfig(), REGION);
}

export async function openReal(log: (s: string) => void): Promise<RealCloud> {
  const direct = loadConfig();
  // One listener per host:port of the catalog (and Keystone's).
  const upstreams = new Map<string, Upstream>();
  const add = (url: string, service: string) => {
    const u = new URL(url);
    upstreams.set(`${u.hostname}:${u.port}`, upstreams.get(`${u.hostname}:${u.port}`) ?? { service, host: u.hostname, port: Number(u.port || 80) });
  };
  add(direct.authUrl, 'identity');
  for (const { type, endpoints } of (await connect(direct)).catalog) for (const e of endpoints) add(e.url, /volume|block-storage/.test(type) ? 'volume' : type);
  const proxy = await CountingProxy.start([...upstreams.values()]);
  const tag = `osa-bench-${new Date().toISOString().slice(11, 19).replace(/:/g, '')}-${randomBytes(3).toString('hex')}`;
  const cfg: RealConfig = { ...direct, authUrl: proxy.rewrite(direct.authUrl), region: REGION, tag };
  const api = await connect(cfg);
  return { cfg, proxy, api, serverId: await ensureServer(api, log), osEnv: openrcEnv(cfg) };
}

/** osa-bench-server: reused when present (and not in ERROR), else booted. */
async function ensureServer(api: OpenStack, log: (s: string) => void): Promise<string> {
  const [existing] = await api.serversNamed(SERVER_NAME);
  if (existing?.status === 'ERROR') await api.deleteServer(existing.id);
  else if (existing) {
    log(`real cloud: reusing ${SERVER_NAME} (${existing.id})`);
    await untilIdle(api, existing.id);
    return existing.id;
  }
  const [image] = await api.images({ name: 'osl-tiny-image' });
  if (!image) throw new Error('the public image osl-tiny-image is missing');
  const t = now();
  const server = await api.createServer({ name: SERVER_NAME, imageRef: image.id, flavorRef: 'osl-tiny' });
  if (server.status !== 'ACTIVE') throw new Error(`${SERVER_NAME} booted into ${server.status}`);
  log(`real cloud: booted ${SERVER_NAME} (${server.id}) in ${((now() - t) / 1000).toFixed(1)} s`);
  return server.id;
}

/** Until the server can be snapshotted again (ACTIVE, no task). */
export async function untilIdle(api: OpenStack, id: string, timeoutMs = 180_000): Promise<void> {
  const server = await api.waitServer(id, (s) => s.status === 'ERROR' || isIdle(s), { timeoutMs });
  if (server.status !== 'ACTIVE') throw new Error(`${SERVER_NAME} is ${server.status}`);
}

/** If GRA7's nova-compute is in queued mode, wait (at most 10 minutes) until it is back. */
export async function untilUploadMode(log: (s: string) => void): Promise<void> {
  if (computeMode() === 'queued') log('  GRA7 nova-compute is in queued mode (snapshots would never finish): waiting');
  await poll('GRA7 nova-compute back from queued mode', () => computeMode() !== 'queued', { timeoutMs: 10 * 60_000, everyMs: 5000 });
}

/** Delete what this run made (images carrying its tag) and, unless kept, the server. */
export async function closeReal(real: RealCloud, keepServer: boolean, log: (s: string) => void): Promise<void> {
  try {
    await untilIdle(real.api, real.serverId, 60_000).catch(() => undefined);
    const removed = await cleanupRegion(real.api, REGION);
    if (removed.length) log(`real cloud: deleted ${removed.length} leftover image(s) of this run`);
    if (!keepServer) {
      await real.api.deleteServer(real.serverId);
      log(`real cloud: deleted ${SERVER_NAME}`);
    }
  } finally {
    await real.proxy.stop();
  }
}
