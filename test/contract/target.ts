// What the contract suite runs against: the local cloud (default), or with OSA_CONTRACT_TARGET=real
// the real cloud of test/support/real-cloud.ts (the loopback one unless OS_* say otherwise). The
// contract requests themselves go through the checking client (test/support/openstack.ts); this
// only arranges (images, a server of its own, server states) and cleans up, with whatever each
// cloud offers for that.
import { LocalCloud, type LocalCloudOptions } from '../local-cloud/cloud.ts';
import { expect, OpenStack, RUN_PROPERTY, type AppCredAuth, type PasswordAuth, type Server } from '../support/openstack.ts';
import { poll } from '../support/poll.ts';
import { cleanupRegion, connect, loadConfig } from '../support/real-cloud.ts';

export const REAL = process.env.OSA_CONTRACT_TARGET === 'real';

/** node:test options for a check only the local cloud can make (faults, the clock, states the shared cloud must not be put in). */
export const localOnly = (why: string) => ({ skip: REAL ? `local cloud only: ${why}` : false });

export interface Target {
  authUrl: string;
  password: PasswordAuth & { projectName: string };
  appcred: AppCredAuth;
  /** Both regions; only the first has Cinder and the volume-backed server. */
  region: string;
  region2: string;
  /** Names of the image-backed server (in both regions) and of the volume-backed one. */
  server: string;
  volumeServer: string;
  /** Unique to this run: starts every name, and is the RUN_PROPERTY of every image, so cleanup finds them. */
  tag: string;
  /** The local cloud, when that is the target. */
  local?: LocalCloud;
  /** A session of the checking client, as the password user. */
  login(): Promise<OpenStack>;
  /** An image in Glance (active unless said), tagged with the run. */
  seedImage(name: string, properties: Record<string, string>, opts?: { active?: boolean; protected?: boolean }): Promise<string>;
  /** A server of this run's own (to snapshot, stop and rebuild), deleted by cleanup. */
  scratchServer(): Promise<string>;
  /** Put a server of this run in a state by Nova's own actions (real) or by hand (local). */
  setState(id: string, state: 'SHUTOFF' | 'PAUSED' | 'ACTIVE'): Promise<void>;
  /** Give a server of this run a Nova tag (real: PUT /servers/{id}/tags/{tag}). */
  tagServer(id: string, tag: string): Promise<void>;
  /** Delete everything this run made. */
  close(): Promise<void>;
}

/** `local`: the local cloud's options beyond the defaults (a test that watches a phase may make it longer). */
export async function openTarget(local: LocalCloudOptions = {}): Promise<Target> {
  return REAL ? realTarget() : localTarget(local);
}

async function localTarget(options: LocalCloudOptions): Promise<Target> {
  const cloud = await LocalCloud.start({ snapshotSeconds: 1, rebuildSeconds: 1, ...options });
  // As the loopback cloud is provisioned.
  for (const region of cloud.regionNames) cloud.addServer({ region, name: 'osl-test-server' });
  cloud.addServer({ region: 'GRA7', name: 'osl-volume-server', volumeBacked: true });
  const tag = `osa-contract-${process.pid}`;
  return {
    authUrl: cloud.authUrl,
    password: cloud.demo,
    appcred: { id: cloud.demo.appCredId, secret: cloud.demo.appCredSecret },
    region: 'GRA7',
    region2: 'SBG5',
    server: 'osl-test-server',
    volumeServer: 'osl-volume-server',
    tag,
    local: cloud,
    login: () => OpenStack.login(cloud.authUrl, { password: cloud.demo }, { region: 'GRA7', tag }),
    seedImage: async (name, properties, opts = {}) =>
      cloud.addImage({
        region: 'GRA7',
        name,
        status: opts.active === false ? 'queued' : 'active',
        protected: opts.protected,
        properties: { [RUN_PROPERTY]: tag, ...properties },
      }).id,
    scratchServer: async () => cloud.addServer({ region: 'GRA7', name: `${tag}-server` }).id,
    setState: async (id, status) => void cloud.setServer(id, { status }),
    tagServer: async (id, tag) => void cloud.world.findServer(id)?.tags.push(tag),
    close: () => cloud.stop(),
  };
}

const NOVA_ACTION = { SHUTOFF: 'os-stop', PAUSED: 'pause', ACTIVE: 'os-start' };

async function realTarget(): Promise<Target> {
  const cfg = loadConfig();
  const { password, appcred, region2, volumeInstance } = cfg;
  if (!password || !appcred || !region2 || !volumeInstance)
    throw new Error('the contract needs a password, an application credential, two regions and a volume-backed server (the loopback cloud has them)');
  const api = await connect(cfg, { password });
  const servers: string[] = [];
  return {
    authUrl: cfg.authUrl,
    password: { ...password, projectId: undefined, projectName: password.projectName ?? 'demo' },
    appcred,
    region: cfg.region,
    region2,
    server: cfg.instance,
    volumeServer: volumeInstance,
    tag: cfg.tag,
    login: async () => api,
    seedImage: async (name, properties, opts = {}) => (await api.seedImage(name, properties, opts)).id,
    async scratchServer() {
      const [image] = await api.images({ name: 'osl-tiny-image' });
      if (!image) throw new Error('no osl-tiny-image to boot a server from');
      const server = await api.createServer({ name: `${cfg.tag}-server`, flavorRef: 'osl-tiny', imageRef: image.id });
      servers.push(server.id);
      return server.id;
    },
    async setState(id, status) {
      expect(await api.nova('POST', `/servers/${id}/action`, { json: { [NOVA_ACTION[status]]: null } }));
      await api.waitServer(id, (s: Server) => s.status === status && s['OS-EXT-STS:task_state'] === null, { timeoutMs: 60_000 });
    },
    async tagServer(id, tag) {
      expect(await api.nova('PUT', `/servers/${id}/tags/${encodeURIComponent(tag)}`, { version: '2.26' }));
    },
    async close() {
      for (const id of servers) await api.deleteServer(id);
      for (const region of [cfg.region, region2]) await cleanupRegion(api, region);
    },
  };
}

/**
 * Until `done` holds for the server (default: it has no task): the [task_state, status] it went
 * through before, in order.
 */
export async function watchTasks(
  session: OpenStack,
  id: string,
  done: (server: Server) => boolean = (s) => s['OS-EXT-STS:task_state'] === null,
): Promise<{ seen: [string | null, string][]; server: Server }> {
  const seen: [string | null, string][] = [];
  const server = await poll(`server ${id} to be done`, async () => {
    const s = await session.server(id);
    if (done(s)) return s;
    const state: [string | null, string] = [s['OS-EXT-STS:task_state'], s.status];
    if (JSON.stringify(seen.at(-1)) !== JSON.stringify(state)) seen.push(state);
    return undefined;
  });
  return { seen, server };
}
