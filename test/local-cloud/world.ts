// The local cloud's state: tokens, servers, images, volume snapshots, and the jobs that move them
// (snapshots, rebuilds, Cinder deletes). Jobs are computed lazily from timestamps against a clock
// tests can move forward (advance()), so no timers run and thousands of objects cost nothing.
import { createHash, randomBytes } from 'node:crypto';
import type { DemoCredentials, Image, ImageSpec, LocalCloudOptions, Server, ServerSpec, VolumeSnapshot, VolumeSnapshotSpec, VolumeSpec } from './types.ts';
import { FaultBook } from './faults.ts';
import { floorSecond, hex32, isoMicroNaive, isoZ, toMs, uuid } from './http.ts';

export interface TokenRec {
  id: string;
  projectId: string;
  userId: string;
  methods: string[];
  issuedAt: number;
  expiresAt: number;
  revoked: boolean;
  auditId: string;
  appCred: boolean;
}

export type SnapshotOutcome = 'active' | 'killed' | 'vanish' | 'stuck';

export interface SnapshotJob {
  region: string;
  serverId: string;
  imageId: string;
  start: number;
  durationMs: number;
  outcome: SnapshotOutcome;
  /** The status a killed image ends in. */
  deadStatus: string;
  /** When the image leaves queued for saving (Infinity: never). */
  savingAt: number;
  /** When the image reaches its final state (active / killed / gone); Infinity for stuck. */
  finalAt: number;
  /** When the server's task_state returns to null. */
  taskEndAt: number;
  /** 0 = queued, 1 = saving, 2 = final state applied. */
  phase: number;
  /** When the disk is captured: image_pending_upload ends, image_uploading begins. */
  capturedAt: number;
}

/** One server action as Nova records it (os-instance-actions), with its one compute event. */
export interface ActionRec {
  action: string;
  requestId: string;
  start: number;
  /** The snapshot it made: the event's result follows the job. */
  job: SnapshotJob | null;
}

/** A rebuild in progress: Nova's task states, then the server's state before it (a stopped one is powered off again). */
export interface RebuildJob {
  start: number;
  durationMs: number;
  /** vm_state when it ends: the one before, or error (a volume-backed reimage that fails in nova-compute, or a rebuild-error fault). */
  endVmState: string;
  /** The fault Nova records when it ends in error. */
  fault?: string;
}

export interface ServerRec {
  id: string;
  region: string;
  name: string;
  /** null: Nova shows no tenant_id (a policy that hides it). */
  projectId: string | null;
  userId: string;
  vmState: string;
  taskState: string | null;
  volumeBacked: boolean;
  rootVolumeId: string | null;
  /** in-use, or reserved (left so by a failed reimage of the boot volume). */
  rootVolumeStatus: string;
  /** The boot image; for a volume-backed server, the image its boot volume was made from. */
  imageRef: string;
  flavorId: string;
  createdAt: number;
  updatedAt: number;
  hostId: string;
  job: SnapshotJob | null;
  /** Its instance actions, oldest first. */
  actions: ActionRec[];
  rebuild: RebuildJob | null;
  /** Why Nova put it in ERROR (shown as `fault`). */
  fault: string | null;
  /** os-stop / os-start in progress: powering-off or powering-on until `at`, then `to`. */
  power: { at: number; to: 'stopped' | 'active' } | null;
  metadata: Record<string, string>;
  tags: string[];
  /** A boot in progress (BUILD, spawning): until `at` (Infinity: never), then ACTIVE, or ERROR with `fault`. */
  boot: { at: number; fault?: string } | null;
  /** Deleted: task deleting until then, then gone (its volumes detached). */
  deleteAt: number | null;
}

export interface ImageRec {
  id: string;
  region: string;
  name: string | null;
  status: string;
  visibility: string;
  protected: boolean;
  owner: string | null;
  size: number | null;
  diskFormat: string | null;
  containerFormat: string | null;
  checksum: string | null;
  /** Glance's multihash of the data (os_hash_algo sha512). */
  hash: string | null;
  minDisk: number;
  minRam?: number;
  /** Data uploaded with PUT …/file; without it, an active image's data is the filler of its size. */
  data?: Buffer;
  createdAt: number;
  updatedAt: number;
  props: Map<string, string>;
  inUse: boolean;
  job: SnapshotJob | null;
}

export interface VolSnapRec {
  id: string;
  region: string;
  name: string | null;
  status: string;
  volumeId: string;
  size: number;
  projectId: string;
  createdAt: number;
  deleteAt: number | null;
}

export interface RegionState {
  name: string;
  hasCinder: boolean;
  images: Map<string, ImageRec>;
  servers: Map<string, ServerRec>;
  volSnaps: Map<string, VolSnapRec>;
  /** Volumes other than the servers' root volumes. */
  volumes: Map<string, VolumeSpec & { id: string }>;
}

/** The volumes a volume-backed snapshot's image records (its block_device_mapping): the Cinder snapshots they are made of. */
function bdmSnapshots(img: ImageRec): string[] {
  try {
    const devices = JSON.parse(img.props.get('block_device_mapping') ?? '[]') as { snapshot_id?: string | null }[];
    return devices.flatMap((d) => (d.snapshot_id ? [d.snapshot_id] : []));
  } catch {
    return [];
  }
}

/** Nova status -> vm_state and task_state (nova/api/openstack/common.py _STATE_MAP, reversed). */
const STATUS_TO_VM: Record<string, [string, string?]> = {
  ACTIVE: ['active'],
  SHUTOFF: ['stopped'],
  PAUSED: ['paused'],
  SUSPENDED: ['suspended'],
  ERROR: ['error'],
  BUILD: ['building'],
  SHELVED_OFFLOADED: ['shelved_offloaded'],
  RESCUE: ['rescued'],
  REBOOT: ['active', 'rebooting'],
  HARD_REBOOT: ['active', 'rebooting_hard'],
  REBUILD: ['active', 'rebuilding'],
  RESIZE: ['active', 'resize_prep'],
};
const VM_TO_STATUS: Record<string, string> = Object.fromEntries(
  Object.entries(STATUS_TO_VM)
    .filter(([, [, task]]) => !task)
    .map(([status, [vm]]) => [vm, status]),
);
/** The task states that change what Nova shows as status (_STATE_MAP): any for an active server, REBUILD also for a stopped or errored one. */
const TASK_STATUS: Record<string, string> = {
  rebooting: 'REBOOT',
  rebooting_hard: 'HARD_REBOOT',
  rebuilding: 'REBUILD',
  rebuild_block_device_mapping: 'REBUILD',
  rebuild_spawning: 'REBUILD',
  resize_prep: 'RESIZE',
};

/** The flavors servers are made with (OVH's names), as GET /flavors/{id} shows them. */
export const FLAVORS: Record<string, { vcpus: number; ram: number; disk: number }> = {
  'b2-7': { vcpus: 2, ram: 7000, disk: 50 },
  'd2-2': { vcpus: 1, ram: 2000, disk: 25 },
  /** As the loopback cloud's osl.tiny: too small for most images. */
  'tiny-1': { vcpus: 1, ram: 64, disk: 1 },
};

export const POWER_STATE: Record<string, number> = { active: 1, paused: 3, stopped: 4, suspended: 7, shelved_offloaded: 4, error: 0, building: 0 };

/**
 * A rebuild's states over its duration (nova/compute/manager.py _do_rebuild_instance): the task
 * states in the vm_state it had, then for a stopped server the spawn's ACTIVE with no task for a
 * moment (seen on the loopback cloud), then ACTIVE powering-off (sic), then stopped.
 */
const REBUILD_PHASES: [until: number, taskState: string | null, vmState?: string][] = [
  [0.2, 'rebuilding'],
  [0.4, 'rebuild_block_device_mapping'],
  [1, 'rebuild_spawning'],
  [1.05, null, 'active'],
  [1.2, 'powering-off', 'active'],
];
/** Where the rebuild of a server that was not stopped ends: after the spawn. */
const SPAWNED = 3;

const randomHex = (bytes: number) => randomBytes(bytes).toString('hex');
const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';

/** Images up to this size have data the local cloud can send (larger ones, like the public base image, only a size). */
const MAX_DATA = 64 * 1024 ** 2;
const fillers = new Map<number, { data: Buffer; md5: string; sha512: string }>();
/** The data of an image of `size` bytes that nobody uploaded (a snapshot Nova made): the same for every image of that size, hashed once. */
export function filler(size: number): { data: Buffer; md5: string; sha512: string } | undefined {
  if (size > MAX_DATA) return undefined;
  let known = fillers.get(size);
  if (!known) {
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i++) data[i] = (i * 31 + (i >> 8)) & 0xff;
    known = { data, md5: createHash('md5').update(data).digest('hex'), sha512: createHash('sha512').update(data).digest('hex') };
    fillers.set(size, known);
  }
  return known;
}
const hashesOf = (size: number) => {
  const known = filler(size);
  return known ? { checksum: known.md5, hash: known.sha512 } : { checksum: randomHex(16), hash: randomHex(64) };
};

export class World {
  readonly regions = new Map<string, RegionState>();
  readonly tokens = new Map<string, TokenRec>();
  readonly jobs = new Set<SnapshotJob>();
  readonly faults = new FaultBook();
  readonly demo: DemoCredentials;
  readonly otherProjectId = hex32();
  readonly roles = [
    { id: hex32(), name: 'member' },
    { id: hex32(), name: 'reader' },
  ];
  readonly snapshotMs: number;
  readonly captureMs: number;
  readonly uploadMs: number;
  readonly rebuildMs: number;
  readonly powerMs: number;
  readonly bootMs: number;
  readonly deleteMs: number;
  readonly maxMicroversion: string;
  readonly tokenTtlMs: number;
  readonly imagePageMax: number;
  /** http://127.0.0.1:PORT, set once listening. */
  base = '';
  #offset = 0;
  readonly #baseImageIds = new Map<string, string>();

  constructor(opts: LocalCloudOptions) {
    // Two regions like the loopback cloud; Cinder only in GRA7.
    for (const name of ['GRA7', 'SBG5']) {
      this.regions.set(name, { name, hasCinder: name === 'GRA7', images: new Map(), servers: new Map(), volSnaps: new Map(), volumes: new Map() });
    }
    const snapshotMs = Math.max(0, (opts.snapshotSeconds ?? 2) * 1000);
    this.captureMs = Math.max(0, opts.captureSeconds === undefined ? snapshotMs / 2 : opts.captureSeconds * 1000);
    this.uploadMs = Math.max(0, opts.uploadSeconds === undefined ? snapshotMs / 2 : opts.uploadSeconds * 1000);
    this.snapshotMs = this.captureMs + this.uploadMs;
    this.rebuildMs = Math.max(0, (opts.rebuildSeconds ?? 1) * 1000);
    this.powerMs = Math.max(0, (opts.powerSeconds ?? 0.5) * 1000);
    this.bootMs = Math.max(0, (opts.bootSeconds ?? 1) * 1000);
    this.deleteMs = Math.max(0, (opts.deleteSeconds ?? 0.5) * 1000);
    this.maxMicroversion = opts.maxMicroversion ?? '2.93';
    this.tokenTtlMs = (opts.tokenTtlSeconds ?? 43200) * 1000;
    this.imagePageMax = opts.imagePageMax ?? 1000;
    this.demo = {
      username: 'demo',
      password: 'demo-secret-pw',
      userId: hex32(),
      projectId: hex32(),
      projectName: 'demo',
      userDomainName: 'Default',
      projectDomainName: 'Default',
      appCredId: hex32(),
      appCredSecret: `${randomHex(24)}-${randomHex(16)}`,
    };
    // A public image of another project in each region, which servers are booted from.
    for (const region of this.regions.keys()) {
      const image = this.addImage({
        region,
        name: 'Ubuntu 22.04',
        visibility: 'public',
        owner: this.otherProjectId,
        createdAt: new Date(Date.UTC(2024, 0, 15, 9, 30)),
        size: 2361393152,
      });
      this.#baseImageIds.set(region, image.id);
    }
  }

  now(): number {
    return Date.now() + this.#offset;
  }

  advance(ms: number): void {
    this.#offset += ms;
  }

  region(name: string): RegionState {
    const r = this.regions.get(name);
    if (!r) throw new Error(`unknown region ${name} (regions: ${[...this.regions.keys()].join(', ')})`);
    return r;
  }

  /** Apply every transition due by now. */
  settle(now = this.now()): void {
    for (const job of this.jobs) this.#applyJob(job, now);
    for (const region of this.regions.values()) {
      for (const snap of region.volSnaps.values()) if (snap.deleteAt !== null && now >= snap.deleteAt) region.volSnaps.delete(snap.id);
      for (const server of region.servers.values()) this.#applyRebuild(server, now);
      for (const volume of region.volumes.values()) if (volume.deleteAt !== undefined && now >= volume.deleteAt) region.volumes.delete(volume.id);
      for (const server of region.servers.values()) {
        if (server.deleteAt === null || now < server.deleteAt) continue;
        // Gone; its volumes detached, kept (the BDM of a snapshot says delete_on_termination: false, as osl-volume-server's).
        region.servers.delete(server.id);
        for (const volume of region.volumes.values()) if (volume.serverId === server.id) delete volume.serverId;
      }
    }
  }

  #applyJob(job: SnapshotJob, now: number): void {
    const region = this.region(job.region);
    const img = region.images.get(job.imageId);
    if (img?.job === job) {
      if (job.phase < 1 && now >= job.savingAt) {
        Object.assign(img, { status: 'saving', diskFormat: 'qcow2', containerFormat: 'bare', updatedAt: floorSecond(job.savingAt) });
        job.phase = 1;
      }
      if (job.phase < 2 && now >= job.finalAt) {
        job.phase = 2;
        img.job = null;
        img.updatedAt = floorSecond(job.finalAt);
        if (job.outcome === 'active') {
          Object.assign(img, { status: 'active', diskFormat: 'qcow2', containerFormat: 'bare', size: 65536, ...hashesOf(65536) });
          img.props.set('image_location', 'snapshot');
          img.props.set('image_state', 'available');
          img.props.set('owner_id', img.owner ?? '');
        } else if (job.outcome === 'killed') img.status = job.deadStatus;
        // nova's @delete_image_on_error: the image is deleted, GET -> 404.
        else if (job.outcome === 'vanish') region.images.delete(img.id);
      }
    } else job.phase = 2;
    const server = region.servers.get(job.serverId);
    if (server?.job === job && now >= job.taskEndAt) {
      server.job = null;
      server.taskState = null;
      server.updatedAt = floorSecond(job.taskEndAt);
    }
    if (server?.job !== job && (job.phase >= 2 || job.outcome === 'stuck')) {
      if (img?.job === job) img.job = null;
      this.jobs.delete(job);
    }
  }

  #applyRebuild(s: ServerRec, now: number): void {
    const job = s.rebuild;
    if (!job) return;
    // A stopped server is powered off again after the spawn.
    const last = job.endVmState === 'stopped' ? REBUILD_PHASES.length : SPAWNED;
    const end = job.start + REBUILD_PHASES[last - 1]![0] * job.durationMs;
    if (now < end) return;
    s.rebuild = null;
    s.vmState = job.endVmState;
    s.taskState = null;
    if (job.endVmState === 'error' && s.volumeBacked) s.rootVolumeStatus = 'reserved';
    s.fault = job.fault ?? null;
    s.updatedAt = floorSecond(end);
  }

  /** The server's vm_state and task_state now (a running snapshot or rebuild drives them). */
  state(s: ServerRec, now = this.now()): { vmState: string; taskState: string | null } {
    this.#applyRebuild(s, now);
    if (s.boot && now >= s.boot.at) {
      s.vmState = s.boot.fault === undefined ? 'active' : 'error';
      s.fault = s.boot.fault ?? null;
      s.updatedAt = floorSecond(s.boot.at);
      s.boot = null;
    }
    if (s.boot) return { vmState: 'building', taskState: 'spawning' };
    if (s.deleteAt !== null) return { vmState: s.vmState, taskState: 'deleting' };
    if (s.power && now >= s.power.at) {
      s.vmState = s.power.to;
      s.updatedAt = floorSecond(s.power.at);
      s.power = null;
    }
    if (s.power) return { vmState: s.vmState, taskState: s.power.to === 'stopped' ? 'powering-off' : 'powering-on' };
    const rebuild = s.rebuild;
    if (rebuild) {
      const at = (now - rebuild.start) / Math.max(rebuild.durationMs, 1);
      const phase = REBUILD_PHASES.find(([until]) => at < until);
      if (phase) return { vmState: phase[2] ?? s.vmState, taskState: phase[1] };
    }
    return { vmState: s.vmState, taskState: this.#snapshotTaskState(s, now) };
  }

  #snapshotTaskState(s: ServerRec, now: number): string | null {
    const job = s.job;
    if (!job || now >= job.taskEndAt) return s.taskState;
    const rel = now - job.start;
    // Stock fake driver (loopback OSL_SNAPSHOT_MODE=queued): pending -> image_snapshot -> image_uploading -> None in ~0.15 s.
    const marks: [number, string][] =
      job.outcome === 'stuck'
        ? [
            [50, 'image_snapshot_pending'],
            [100, 'image_snapshot'],
          ]
        : [
            [Math.min(0.025 * job.durationMs, job.capturedAt - job.start), 'image_snapshot_pending'],
            [Math.min(0.05 * job.durationMs, job.capturedAt - job.start), 'image_snapshot'],
            [job.capturedAt - job.start, 'image_pending_upload'],
          ];
    return marks.find(([until]) => rel < until)?.[1] ?? 'image_uploading';
  }

  /** When Nova last changed the server: its snapshot's task state changes count (changes-since). */
  updatedAt(s: ServerRec, now = this.now()): number {
    const job = s.job;
    if (!job) return s.updatedAt;
    const marks = [job.start, job.capturedAt, job.taskEndAt].filter((at) => at <= now);
    return Math.max(s.updatedAt, floorSecond(Math.max(...marks)));
  }

  /** The snapshot of the action is over (its job ended, or there was none to wait for). */
  actionDone(a: ActionRec, now = this.now()): boolean {
    return !a.job || now >= a.job.taskEndAt;
  }

  /** Nova's words for a snapshot that failed on the compute host (an admin's event details), once it has. */
  actionFailure(a: ActionRec, now = this.now()): string | undefined {
    const job = a.job;
    if (!job || now < job.finalAt) return undefined;
    if (job.outcome === 'killed') return `Image ${job.imageId} upload failed: Glance returned an error while the snapshot was uploaded`;
    if (job.outcome === 'vanish') return `Instance ${job.serverId} is not running.`;
    return undefined;
  }

  static statusOf(vmState: string, taskState: string | null): string {
    const byTask = taskState ? TASK_STATUS[taskState] : undefined;
    if (byTask && (vmState === 'active' || (byTask === 'REBUILD' && (vmState === 'stopped' || vmState === 'error')))) return byTask;
    return VM_TO_STATUS[vmState] ?? 'UNKNOWN';
  }

  // ---------------------------------------------------------------------------------------------
  // Servers

  addServer(spec: ServerSpec): ServerRec {
    const region = this.region(spec.region);
    const id = spec.id ?? uuid();
    if (this.findServer(id)) throw new Error(`server ${id} already exists`);
    if (spec.flavorId && !FLAVORS[spec.flavorId]) throw new Error(`no flavor ${spec.flavorId} (flavors: ${Object.keys(FLAVORS).join(', ')})`);
    if (spec.volumeBacked && !region.hasCinder) throw new Error(`region ${spec.region} has no Cinder: a volume-backed server cannot exist there`);
    const [vmState, taskState] = this.#statusToVm(spec.status ?? 'ACTIVE');
    const created = floorSecond(toMs(spec.createdAt, this.now()));
    const s: ServerRec = {
      id,
      region: spec.region,
      name: spec.name,
      projectId: spec.projectId === undefined ? this.demo.projectId : spec.projectId,
      userId: this.demo.userId,
      vmState,
      taskState: spec.taskState !== undefined ? spec.taskState : taskState,
      volumeBacked: !!spec.volumeBacked,
      rootVolumeId: spec.volumeBacked ? uuid() : null,
      rootVolumeStatus: 'in-use',
      imageRef: spec.imageRef ?? this.#baseImageIds.get(spec.region)!,
      flavorId: spec.flavorId ?? 'b2-7',
      createdAt: created,
      updatedAt: created + 1000,
      hostId: randomHex(28),
      job: null,
      actions: [],
      rebuild: null,
      fault: null,
      power: null,
      metadata: { ...spec.metadata },
      tags: [...(spec.tags ?? [])],
      boot: null,
      deleteAt: null,
    };
    region.servers.set(id, s);
    return s;
  }

  /**
   * Nova's server create accepted: BUILD (spawning) for bootMs, then ACTIVE (or as `fault` says).
   * From a volume-backed snapshot's image, a volume is made of each of its Cinder snapshots and attached.
   */
  bootServer(
    region: string,
    spec: { name: string; image: ImageRec; flavorId: string; metadata: Record<string, string> },
    fault: { message?: string; stuck?: boolean } | null,
  ): ServerRec {
    const now = this.now();
    const snapshots = bdmSnapshots(spec.image);
    const s = this.addServer({ region, name: spec.name, flavorId: spec.flavorId, metadata: spec.metadata, imageRef: spec.image.id, createdAt: new Date(now) });
    s.volumeBacked = snapshots.length > 0;
    s.boot = { at: fault?.stuck ? Number.POSITIVE_INFINITY : now + this.bootMs, ...(fault?.message !== undefined ? { fault: fault.message } : {}) };
    [s.vmState, s.taskState] = ['building', null];
    for (const snapshotId of snapshots) this.addVolumeRec(region, { snapshotId, serverId: s.id, createdAt: new Date(now) });
    return s;
  }

  /** A volume beside the servers' root volumes. */
  addVolumeRec(region: string, spec: Omit<VolumeSpec, 'region'>): VolumeSpec & { id: string } {
    const volume = { ...spec, region, id: spec.id ?? uuid(), createdAt: spec.createdAt ?? new Date(floorSecond(this.now())), metadata: { ...spec.metadata } };
    this.region(region).volumes.set(volume.id, volume);
    return volume;
  }

  /** The volumes attached to the server, beside its root volume. */
  attachedVolumes(s: ServerRec): string[] {
    return [...this.region(s.region).volumes.values()].filter((v) => v.serverId === s.id).map((v) => v.id);
  }

  /** Nova's delete accepted: task deleting for deleteMs, then gone (settle). */
  deleteServer(s: ServerRec): void {
    s.deleteAt ??= this.now() + this.deleteMs;
    s.boot = null;
    this.settle();
  }

  #statusToVm(status: string): [string, string | null] {
    const map = STATUS_TO_VM[status.toUpperCase()];
    if (!map) throw new Error(`unknown server status ${status}`);
    return [map[0], map[1] ?? null];
  }

  findServer(id: string): ServerRec | undefined {
    for (const r of this.regions.values()) {
      const s = r.servers.get(id);
      if (s) return s;
    }
    return undefined;
  }

  setServer(id: string, patch: { status?: string; taskState?: string | null; name?: string }): ServerRec {
    this.settle();
    const s = this.findServer(id);
    if (!s) throw new Error(`no server ${id}`);
    if (patch.status !== undefined) [s.vmState, s.taskState] = this.#statusToVm(patch.status);
    if (patch.taskState !== undefined) {
      s.taskState = patch.taskState;
      // An explicit task_state overrides a running snapshot's (the image carries on).
      s.job = null;
    }
    if (patch.name !== undefined) s.name = patch.name;
    s.updatedAt = floorSecond(this.now());
    return s;
  }

  /**
   * Nova's rebuild accepted: the new image at once (nova-api sets image_ref; a volume-backed server
   * keeps its ""), the task states for rebuildMs, then the state before (or, `failing`, ERROR with the fault given).
   */
  startRebuild(s: ServerRec, imageRef: string, failing: { fault?: string } | null): void {
    if (!s.volumeBacked) s.imageRef = imageRef;
    const endVmState = failing ? 'error' : s.vmState === 'stopped' ? 'stopped' : 'active';
    s.rebuild = { start: this.now(), durationMs: this.rebuildMs, endVmState, ...(failing?.fault ? { fault: failing.fault } : {}) };
    s.updatedAt = floorSecond(this.now());
    this.#applyRebuild(s, this.now()); // rebuildSeconds: 0 finishes at once
  }

  /** os-stop or os-start accepted: the task state for powerMs, then the new vm_state. */
  startPower(s: ServerRec, to: 'stopped' | 'active'): void {
    s.power = { at: this.now() + this.powerMs, to };
    s.updatedAt = floorSecond(this.now());
  }

  serverView(s: ServerRec): Server {
    const { vmState, taskState } = this.state(s);
    return {
      id: s.id,
      region: s.region,
      name: s.name,
      status: World.statusOf(vmState, taskState),
      vmState,
      taskState,
      volumeBacked: s.volumeBacked,
      rootVolumeId: s.rootVolumeId,
      imageRef: s.imageRef,
      createdAt: isoZ(s.createdAt),
      updatedAt: isoZ(s.updatedAt),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Images

  #makeImage(spec: ImageSpec & { diskFormat?: string }, now: number): ImageRec {
    const status = spec.status ?? 'active';
    const active = status === 'active';
    const size = spec.size !== undefined ? spec.size : active ? 65536 : null;
    const created = floorSecond(toMs(spec.createdAt, now));
    for (const [k, v] of Object.entries(spec.properties ?? {}))
      if (typeof v !== 'string') throw new Error(`image property ${k} must be a string (Glance stores strings)`);
    return {
      id: spec.id ?? uuid(),
      region: spec.region,
      name: spec.name,
      status,
      visibility: spec.visibility ?? 'private',
      protected: spec.protected ?? false,
      owner: spec.owner ?? this.demo.projectId,
      size,
      diskFormat: spec.diskFormat ?? (active || status === 'saving' ? 'qcow2' : null),
      containerFormat: active || status === 'saving' ? 'bare' : null,
      ...(active && size !== null
        ? size === 0
          ? { checksum: EMPTY_MD5, hash: createHash('sha512').digest('hex') }
          : hashesOf(size)
        : { checksum: null, hash: null }),
      minDisk: spec.minDisk ?? 0,
      createdAt: created,
      updatedAt: created,
      props: new Map(Object.entries(spec.properties ?? {})),
      inUse: false,
      job: null,
    };
  }

  /** POST /v2/images: a queued image with no data, the ID the client chose if any (Glance's image create). */
  createImage(region: string, owner: string, fields: Record<string, unknown>): ImageRec | 'conflict' {
    const id = typeof fields.id === 'string' ? fields.id : uuid();
    if (this.findImage(id) || this.deletedImageIds.has(id)) return 'conflict';
    const now = this.now();
    const props = new Map<string, string>();
    const base = new Set(['id', 'name', 'disk_format', 'container_format', 'min_disk', 'min_ram', 'visibility', 'protected', 'tags']);
    for (const [k, v] of Object.entries(fields)) if (!base.has(k) && typeof v === 'string') props.set(k, v);
    const img: ImageRec = {
      id,
      region,
      name: typeof fields.name === 'string' ? fields.name : null,
      status: 'queued',
      visibility: typeof fields.visibility === 'string' ? fields.visibility : 'shared',
      protected: fields.protected === true,
      owner,
      size: null,
      diskFormat: typeof fields.disk_format === 'string' ? fields.disk_format : null,
      containerFormat: typeof fields.container_format === 'string' ? fields.container_format : null,
      checksum: null,
      hash: null,
      minDisk: typeof fields.min_disk === 'number' ? fields.min_disk : 0,
      minRam: typeof fields.min_ram === 'number' ? fields.min_ram : 0,
      createdAt: floorSecond(now),
      updatedAt: floorSecond(now),
      props,
      inUse: false,
      job: null,
    };
    this.region(region).images.set(id, img);
    return img;
  }

  /** PUT /v2/images/{id}/file: the data stored, hashed as Glance does, the image active. */
  storeImageData(img: ImageRec, data: Buffer): void {
    Object.assign(img, {
      data,
      size: data.length,
      checksum: createHash('md5').update(data).digest('hex'),
      hash: createHash('sha512').update(data).digest('hex'),
      status: 'active',
      updatedAt: floorSecond(this.now()),
    });
  }

  /** The bytes GET /v2/images/{id}/file sends: what was uploaded, or the filler of its size. */
  imageData(img: ImageRec): Buffer | undefined {
    if (img.data) return img.data;
    if (img.size === 0) return Buffer.alloc(0);
    return img.size === null ? undefined : filler(img.size)?.data;
  }

  addImage(spec: ImageSpec): ImageRec {
    const img = this.#makeImage(spec, this.now());
    if (this.findImage(img.id)) throw new Error(`image ${img.id} already exists`);
    this.region(spec.region).images.set(img.id, img);
    return img;
  }

  addImages(region: string, count: number, fn?: (i: number) => Partial<ImageSpec>): ImageRec[] {
    return Array.from({ length: count }, (_, i) => this.addImage({ name: `image-${i}`, ...fn?.(i), region }));
  }

  findImage(id: string): ImageRec | undefined {
    for (const r of this.regions.values()) {
      const i = r.images.get(id);
      if (i) return i;
    }
    return undefined;
  }

  /** Glance keeps the row of a deleted image: its ID is never given again (a create with it is a 409). */
  readonly deletedImageIds = new Set<string>();

  deleteImage(img: ImageRec): void {
    const region = this.region(img.region);
    region.images.delete(img.id);
    this.deletedImageIds.add(img.id);
    const job = img.job;
    if (!job) return;
    // The upload fails once the image is gone; Nova resets the task_state.
    job.phase = 2;
    img.job = null;
    const server = region.servers.get(job.serverId);
    if (server?.job === job) {
      server.job = null;
      server.taskState = null;
      server.updatedAt = floorSecond(this.now());
    }
    this.jobs.delete(job);
  }

  imageView(img: ImageRec): Image {
    return {
      id: img.id,
      region: img.region,
      name: img.name,
      status: img.status,
      visibility: img.visibility,
      protected: img.protected,
      owner: img.owner,
      size: img.size,
      createdAt: isoZ(img.createdAt),
      updatedAt: isoZ(img.updatedAt),
      properties: Object.fromEntries(img.props),
      inUse: img.inUse,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots (Nova createImage)

  /** Nova's own properties on a snapshot image, then the request's metadata. */
  #snapshotProps(own: [string, string][], metadata: Record<string, string>): Map<string, string> {
    const common: [string, string][] = [
      ['owner_user_name', this.demo.username],
      ['owner_project_name', this.demo.projectName],
      ['boot_roles', this.roles.map((r) => r.name).join(',')],
    ];
    return new Map([...common, ...own, ...Object.entries(metadata)]);
  }

  /** Image-backed snapshot: a queued Glance image that progresses over snapshotMs (or as a fault says). */
  startImageSnapshot(
    s: ServerRec,
    name: string,
    metadata: Record<string, string>,
    fault: { outcome: SnapshotOutcome; afterMs?: number; status?: string } | null,
  ): ImageRec {
    const now = this.now();
    const d = this.snapshotMs;
    const outcome = fault?.outcome ?? 'active';
    const at = (def: number) => now + Math.min(Math.max(0, fault?.afterMs ?? def), d);
    let savingAt = now + this.captureMs;
    let finalAt = now + d;
    let taskEndAt = now + d;
    if (outcome === 'killed') taskEndAt = finalAt = at(0.75 * d);
    else if (outcome === 'vanish') taskEndAt = finalAt = at(0.5 * d);
    else if (outcome === 'stuck') {
      savingAt = finalAt = Number.POSITIVE_INFINITY;
      taskEndAt = now + Math.min(150, Math.max(d, 1));
    }
    if (savingAt >= finalAt) savingAt = Number.POSITIVE_INFINITY;
    const img = this.#makeImage({ region: s.region, name, status: 'queued', size: null, minDisk: 1 }, now);
    img.props = this.#snapshotProps(
      [
        ['base_image_ref', s.imageRef],
        ['instance_uuid', s.id],
        ['user_id', this.demo.userId],
        ['image_type', 'snapshot'],
      ],
      metadata,
    );
    const job: SnapshotJob = {
      region: s.region,
      serverId: s.id,
      imageId: img.id,
      start: now,
      durationMs: d,
      outcome,
      deadStatus: fault?.status ?? 'killed',
      savingAt,
      finalAt,
      taskEndAt,
      phase: 0,
      capturedAt: now + this.captureMs,
    };
    img.job = job;
    s.job = job;
    s.taskState = null;
    s.updatedAt = floorSecond(now);
    this.region(s.region).images.set(img.id, img);
    this.jobs.add(job);
    this.#applyJob(job, now); // snapshotSeconds: 0 finishes at once
    return img;
  }

  /** Volume-backed snapshot: a Cinder snapshot plus an active, size-0 image holding the BDM, at once (loopback README). */
  volumeBackedSnapshot(s: ServerRec, name: string, metadata: Record<string, string>): ImageRec {
    const snap = this.addVolumeSnapshot({ region: s.region, name: `snapshot for ${name}`, volumeId: s.rootVolumeId! });
    // Verbatim key order of the real one.
    const bdm = `[{"source_type": "snapshot", "snapshot_id": "${snap.id}", "encryption_secret_uuid": null, "destination_type": "volume", "encrypted": null, "volume_size": 1, "image_id": null, "delete_on_termination": false, "boot_index": 0, "no_device": null, "volume_type": null, "device_name": "/dev/sda", "disk_bus": null, "encryption_format": null, "encryption_options": null, "guest_format": null, "device_type": null, "volume_id": null, "tag": null}]`;
    const img = this.#makeImage({ region: s.region, name, size: 0, minDisk: 1 }, this.now());
    img.props = this.#snapshotProps([['base_image_ref', '']], metadata);
    for (const [k, v] of [
      ['root_device_name', '/dev/sda'],
      ['block_device_mapping', bdm],
      ['bdm_v2', 'True'],
    ] as const)
      img.props.set(k, v);
    this.region(s.region).images.set(img.id, img);
    return img;
  }

  // ---------------------------------------------------------------------------------------------
  // Cinder

  addVolumeSnapshot(spec: VolumeSnapshotSpec): VolSnapRec {
    const region = this.region(spec.region);
    if (!region.hasCinder) throw new Error(`region ${spec.region} has no Cinder`);
    const snap: VolSnapRec = {
      id: spec.id ?? uuid(),
      region: spec.region,
      name: spec.name,
      status: spec.status ?? 'available',
      volumeId: spec.volumeId ?? uuid(),
      size: 1,
      projectId: this.demo.projectId,
      createdAt: floorSecond(toMs(spec.createdAt, this.now())),
      deleteAt: null,
    };
    region.volSnaps.set(snap.id, snap);
    return snap;
  }

  /** Every volume of the region as Cinder lists it: the servers' root volumes, then the others. */
  volumes(region: string): {
    id: string;
    status: string;
    snapshotId: string | null;
    serverId: string | null;
    imageId: string | null;
    metadata?: Record<string, string>;
    createdAt?: Date | string;
  }[] {
    const r = this.region(region);
    return [
      ...[...r.servers.values()].flatMap((s) =>
        s.rootVolumeId
          ? [{ id: s.rootVolumeId, status: s.rootVolumeStatus, snapshotId: null, serverId: s.rootVolumeStatus === 'in-use' ? s.id : null, imageId: s.imageRef }]
          : [],
      ),
      ...[...r.volumes.values()].map((v) => ({
        id: v.id,
        status: v.deleteAt !== undefined ? 'deleting' : v.serverId ? 'in-use' : 'available',
        snapshotId: v.snapshotId ?? null,
        serverId: v.serverId ?? null,
        imageId: null,
        metadata: v.metadata ?? {},
        createdAt: v.createdAt,
      })),
    ];
  }

  /** Cinder deletes in the background: 'deleting', then gone 200 ms later (as on the loopback cloud). */
  deleteVolumeSnapshot(snap: VolSnapRec): void {
    snap.status = 'deleting';
    snap.deleteAt = this.now() + 200;
  }

  volSnapView(s: VolSnapRec): VolumeSnapshot {
    return { id: s.id, region: s.region, name: s.name, status: s.status, volumeId: s.volumeId, size: s.size, createdAt: isoMicroNaive(s.createdAt) };
  }

  // ---------------------------------------------------------------------------------------------
  // Tokens

  validToken(id: string | undefined): TokenRec | null {
    const t = id ? this.tokens.get(id) : undefined;
    return t && !t.revoked && this.now() < t.expiresAt ? t : null;
  }
}
