// The local cloud's state: projects, tokens, servers, images, volume snapshots, snapshot jobs.
// Time-based transitions (snapshot progress, Cinder deletes, token expiry) are computed lazily from
// timestamps against a clock that tests can move forward (advance()), so no timers are needed and
// thousands of objects cost nothing.
import type {
  DemoCredentials,
  Image,
  ImageSpec,
  LocalCloudOptions,
  Server,
  ServerSpec,
  VolumeSnapshot,
  VolumeSnapshotSpec,
  VolumeSpec,
} from './types.ts';
import { FaultBook } from './faults.ts';
import { EMPTY_MD5, EMPTY_SHA512, ci, floorSecond, hex32, isoZ, isoMicroNaive, randomHex, toMs, uuid } from './util.ts';

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
  /** When the image leaves queued for saving (Infinity if never). */
  savingAt: number;
  /** When the image reaches its final state (active / killed / gone). Infinity for stuck. */
  finalAt: number;
  /** When the server's task_state returns to null. */
  taskEndAt: number;
  /** 0 = queued, 1 = saving, 2 = final state applied. */
  phase: number;
}

export interface ServerRec {
  id: string;
  region: string;
  name: string;
  projectId: string;
  userId: string;
  vmState: string;
  taskState: string | null;
  volumeBacked: boolean;
  rootVolumeId: string | null;
  volumeSize: number;
  imageRef: string;
  createdAt: number;
  updatedAt: number;
  launchedAt: number | null;
  hostId: string;
  job: SnapshotJob | null;
}

export interface ImageRec {
  id: string;
  region: string;
  name: string | null;
  nameKey: string | null;
  status: string;
  visibility: string;
  protected: boolean;
  owner: string | null;
  size: number | null;
  virtualSize: number | null;
  diskFormat: string | null;
  containerFormat: string | null;
  checksum: string | null;
  osHashAlgo: string | null;
  osHashValue: string | null;
  minDisk: number;
  minRam: number;
  osHidden: boolean;
  createdAt: number;
  updatedAt: number;
  tags: string[];
  props: Map<string, string>;
  inUse: boolean;
  job: SnapshotJob | null;
}

export interface VolSnapRec {
  id: string;
  region: string;
  name: string | null;
  description: string | null;
  status: string;
  volumeId: string;
  size: number;
  projectId: string;
  createdAt: number;
  updatedAt: number;
  metadata: Record<string, string>;
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
  /** Bumped on every change that can affect an image listing (used by Glance's list cache). */
  version: number;
  listCache: Map<string, { version: number; sorted: ImageRec[] }>;
}

/** Nova status -> vm_state (nova/api/openstack/common.py _STATE_MAP, reversed). */
const STATUS_TO_VM: Record<string, { vm: string; task?: string }> = {
  ACTIVE: { vm: 'active' },
  SHUTOFF: { vm: 'stopped' },
  PAUSED: { vm: 'paused' },
  SUSPENDED: { vm: 'suspended' },
  ERROR: { vm: 'error' },
  BUILD: { vm: 'building' },
  SHELVED: { vm: 'shelved' },
  SHELVED_OFFLOADED: { vm: 'shelved_offloaded' },
  RESCUE: { vm: 'rescued' },
  VERIFY_RESIZE: { vm: 'resized' },
  SOFT_DELETED: { vm: 'soft_deleted' },
  DELETED: { vm: 'deleted' },
  REBOOT: { vm: 'active', task: 'rebooting' },
  HARD_REBOOT: { vm: 'active', task: 'rebooting_hard' },
  PASSWORD: { vm: 'active', task: 'updating_password' },
  REBUILD: { vm: 'active', task: 'rebuilding' },
  MIGRATING: { vm: 'active', task: 'migrating' },
  RESIZE: { vm: 'active', task: 'resize_prep' },
};

const VM_TO_STATUS: Record<string, string> = {
  active: 'ACTIVE',
  stopped: 'SHUTOFF',
  paused: 'PAUSED',
  suspended: 'SUSPENDED',
  error: 'ERROR',
  building: 'BUILD',
  shelved: 'SHELVED',
  shelved_offloaded: 'SHELVED_OFFLOADED',
  rescued: 'RESCUE',
  resized: 'VERIFY_RESIZE',
  soft_deleted: 'SOFT_DELETED',
  deleted: 'DELETED',
};

const ACTIVE_TASK_STATUS: Record<string, string> = {
  rebooting: 'REBOOT',
  reboot_pending: 'REBOOT',
  reboot_started: 'REBOOT',
  rebooting_hard: 'HARD_REBOOT',
  reboot_pending_hard: 'HARD_REBOOT',
  reboot_started_hard: 'HARD_REBOOT',
  updating_password: 'PASSWORD',
  rebuilding: 'REBUILD',
  rebuild_block_device_mapping: 'REBUILD',
  rebuild_spawning: 'REBUILD',
  migrating: 'MIGRATING',
  resize_prep: 'RESIZE',
  resize_migrating: 'RESIZE',
  resize_migrated: 'RESIZE',
  resize_finish: 'RESIZE',
};

export const POWER_STATE: Record<string, number> = { active: 1, paused: 3, stopped: 4, suspended: 7, shelved_offloaded: 4, shelved: 4, error: 0, building: 0 };

export class World {
  readonly regions: Map<string, RegionState> = new Map();
  readonly tokens: Map<string, TokenRec> = new Map();
  readonly jobs: Set<SnapshotJob> = new Set();
  readonly deletingSnaps: Set<VolSnapRec> = new Set();
  readonly faults = new FaultBook();
  readonly demo: DemoCredentials;
  readonly domainId = 'default';
  readonly otherProjectId = hex32();
  readonly roles = [
    { id: hex32(), name: 'member' },
    { id: hex32(), name: 'reader' },
  ];
  readonly snapshotMs: number;
  readonly maxMicroversion: string;
  readonly tokenTtlMs: number;
  readonly imageEndpointStyle: 'root' | 'versioned';
  readonly computeEndpointStyle: 'project' | 'plain';
  readonly catalogIds: Map<string, string> = new Map();
  /** http://127.0.0.1:PORT, set once listening. */
  base = '';
  private offset = 0;
  private readonly baseImageIds: Map<string, string> = new Map();

  constructor(opts: LocalCloudOptions) {
    const regions = opts.regions ?? ['GRA7', 'SBG5'];
    const cinder = opts.cinderRegions ?? ['GRA7'];
    for (const r of regions) {
      this.regions.set(r, { name: r, hasCinder: cinder.includes(r), images: new Map(), servers: new Map(), volSnaps: new Map(), volumes: new Map(), version: 0, listCache: new Map() });
    }
    this.snapshotMs = Math.max(0, (opts.snapshotSeconds ?? 2) * 1000);
    this.maxMicroversion = opts.maxMicroversion ?? '2.93';
    this.tokenTtlMs = (opts.tokenTtlSeconds ?? 43200) * 1000;
    this.imageEndpointStyle = opts.imageEndpointStyle ?? 'root';
    this.computeEndpointStyle = opts.computeEndpointStyle ?? 'project';
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
      appCredName: 'local-demo-appcred',
    };
    if (opts.baseImages ?? true) {
      for (const r of regions) {
        const img = this.addImage({
          region: r,
          name: 'Ubuntu 22.04',
          visibility: 'public',
          owner: this.otherProjectId,
          createdAt: new Date(Date.UTC(2024, 0, 15, 9, 30, 0)),
          size: 2361393152,
          diskFormat: 'qcow2',
          containerFormat: 'bare',
          minDisk: 0,
          properties: { os_distro: 'ubuntu', os_version: '22.04', hw_disk_bus: 'scsi' },
        });
        this.baseImageIds.set(r, img.id);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Clock

  now(): number {
    return Date.now() + this.offset;
  }

  advance(ms: number): void {
    this.offset += ms;
  }

  region(name: string): RegionState {
    const r = this.regions.get(name);
    if (!r) throw new Error(`unknown region ${name} (regions: ${[...this.regions.keys()].join(', ')})`);
    return r;
  }

  // ---------------------------------------------------------------------------------------------
  // Lazy transitions

  settle(now = this.now()): void {
    for (const job of this.jobs) this.applyJob(job, now);
    for (const s of this.deletingSnaps) {
      if (s.deleteAt !== null && now >= s.deleteAt) {
        this.regions.get(s.region)?.volSnaps.delete(s.id);
        this.deletingSnaps.delete(s);
      }
    }
  }

  private applyJob(job: SnapshotJob, now: number): void {
    const region = this.regions.get(job.region);
    const img = region?.images.get(job.imageId);
    if (region && img && img.job === job) {
      if (job.phase < 1 && now >= job.savingAt) {
        img.status = 'saving';
        img.diskFormat = 'qcow2';
        img.containerFormat = 'bare';
        img.updatedAt = floorSecond(job.savingAt);
        job.phase = 1;
        region.version++;
      }
      if (job.phase < 2 && now >= job.finalAt) {
        job.phase = 2;
        region.version++;
        img.job = null;
        if (job.outcome === 'active') {
          img.status = 'active';
          img.diskFormat = 'qcow2';
          img.containerFormat = 'bare';
          img.size = 65536;
          img.checksum = randomHex(16);
          img.osHashAlgo = 'sha512';
          img.osHashValue = randomHex(64);
          img.props.set('image_location', 'snapshot');
          img.props.set('image_state', 'available');
          img.props.set('owner_id', img.owner ?? '');
          img.updatedAt = floorSecond(job.finalAt);
        } else if (job.outcome === 'killed') {
          img.status = 'killed';
          img.updatedAt = floorSecond(job.finalAt);
        } else if (job.outcome === 'vanish') {
          // nova's @delete_image_on_error: the image is deleted, GET -> 404.
          region.images.delete(img.id);
        }
      }
    } else {
      job.phase = 2;
    }
    const server = region?.servers.get(job.serverId);
    if (server && server.job === job && now >= job.taskEndAt) {
      server.job = null;
      server.taskState = null;
      server.updatedAt = floorSecond(job.taskEndAt);
    }
    const serverDone = !server || server.job !== job;
    if (serverDone && (job.phase >= 2 || job.outcome === 'stuck')) {
      if (img && img.job === job && job.outcome === 'stuck') img.job = null;
      this.jobs.delete(job);
    }
  }

  /** The server's task_state now (a running snapshot job drives it). */
  taskState(s: ServerRec, now = this.now()): string | null {
    const job = s.job;
    if (!job || now >= job.taskEndAt) return s.taskState;
    const rel = now - job.start;
    if (job.outcome === 'stuck') {
      // Stock fake driver (OSL_SNAPSHOT_MODE=queued): pending -> image_snapshot -> image_uploading -> None in ~0.15 s.
      if (rel < 50) return 'image_snapshot_pending';
      if (rel < 100) return 'image_snapshot';
      return 'image_uploading';
    }
    const d = job.durationMs;
    if (rel < 0.025 * d) return 'image_snapshot_pending';
    if (rel < 0.05 * d) return 'image_snapshot';
    if (rel < 0.5 * d) return 'image_pending_upload';
    return 'image_uploading';
  }

  serverUpdatedAt(s: ServerRec, now = this.now()): number {
    const job = s.job;
    if (!job || now >= job.taskEndAt) return s.updatedAt;
    const d = job.durationMs;
    const marks = job.outcome === 'stuck' ? [0, 50, 100] : [0, 0.025 * d, 0.05 * d, 0.5 * d];
    let last = job.start;
    for (const m of marks) if (job.start + m <= now) last = job.start + m;
    return floorSecond(Math.max(s.updatedAt, last));
  }

  static statusOf(vmState: string, taskState: string | null): string {
    if (vmState === 'active' && taskState && ACTIVE_TASK_STATUS[taskState]) return ACTIVE_TASK_STATUS[taskState];
    if (vmState === 'stopped' && taskState && ACTIVE_TASK_STATUS[taskState] && ACTIVE_TASK_STATUS[taskState] !== 'REBOOT') {
      return ACTIVE_TASK_STATUS[taskState];
    }
    return VM_TO_STATUS[vmState] ?? 'UNKNOWN';
  }

  // ---------------------------------------------------------------------------------------------
  // Servers

  addServer(spec: ServerSpec): ServerRec {
    const region = this.region(spec.region);
    const id = spec.id ?? uuid();
    if (this.findServer(id)) throw new Error(`server ${id} already exists`);
    if (spec.volumeBacked && !region.hasCinder) {
      throw new Error(`region ${spec.region} has no Cinder (cinderRegions); a volume-backed server cannot exist there`);
    }
    const map = STATUS_TO_VM[(spec.status ?? 'ACTIVE').toUpperCase()];
    if (!map) throw new Error(`unknown server status ${spec.status}`);
    const now = this.now();
    const created = floorSecond(toMs(spec.createdAt, now));
    const s: ServerRec = {
      id,
      region: spec.region,
      name: spec.name,
      projectId: this.demo.projectId,
      userId: this.demo.userId,
      vmState: map.vm,
      taskState: spec.taskState !== undefined ? spec.taskState : (map.task ?? null),
      volumeBacked: !!spec.volumeBacked,
      rootVolumeId: spec.volumeBacked ? uuid() : null,
      volumeSize: spec.volumeSize ?? 1,
      imageRef: spec.volumeBacked ? '' : (spec.imageRef ?? this.baseImageIds.get(spec.region) ?? uuid()),
      createdAt: created,
      updatedAt: created + 1000,
      launchedAt: map.vm === 'building' ? null : created + 1000,
      hostId: randomHex(28),
      job: null,
    };
    region.servers.set(id, s);
    return s;
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
    const now = this.now();
    if (patch.status !== undefined) {
      const map = STATUS_TO_VM[patch.status.toUpperCase()];
      if (!map) throw new Error(`unknown server status ${patch.status}`);
      s.vmState = map.vm;
      if (patch.taskState === undefined) s.taskState = map.task ?? null;
      if (s.launchedAt === null && map.vm !== 'building') s.launchedAt = now;
    }
    if (patch.taskState !== undefined) {
      s.taskState = patch.taskState;
      s.job = null; // an explicit task_state overrides a running snapshot's (the image carries on)
    }
    if (patch.name !== undefined) s.name = patch.name;
    s.updatedAt = floorSecond(now);
    return s;
  }

  serverView(s: ServerRec): Server {
    const now = this.now();
    const task = this.taskState(s, now);
    return {
      id: s.id,
      region: s.region,
      name: s.name,
      status: World.statusOf(s.vmState, task),
      vmState: s.vmState,
      taskState: task,
      volumeBacked: s.volumeBacked,
      rootVolumeId: s.rootVolumeId,
      imageRef: s.imageRef,
      projectId: s.projectId,
      createdAt: isoZ(s.createdAt),
      updatedAt: isoZ(this.serverUpdatedAt(s, now)),
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Images

  private makeImage(spec: ImageSpec, now: number): ImageRec {
    const status = spec.status ?? 'active';
    const active = status === 'active';
    const size = spec.size !== undefined ? spec.size : active ? 65536 : null;
    const created = floorSecond(toMs(spec.createdAt, now));
    const props = new Map<string, string>();
    if (spec.properties) {
      for (const [k, v] of Object.entries(spec.properties)) {
        if (typeof v !== 'string') throw new Error(`image property ${k} must be a string (Glance stores strings)`);
        props.set(k, v);
      }
    }
    const hasData = size !== null && active;
    return {
      id: spec.id ?? uuid(),
      region: spec.region,
      name: spec.name,
      nameKey: spec.name === null ? null : ci(spec.name),
      status,
      visibility: spec.visibility ?? 'private',
      protected: spec.protected ?? false,
      owner: spec.owner ?? this.demo.projectId,
      size,
      virtualSize: null,
      diskFormat: spec.diskFormat !== undefined ? spec.diskFormat : active || status === 'saving' ? 'qcow2' : null,
      containerFormat: spec.containerFormat !== undefined ? spec.containerFormat : active || status === 'saving' ? 'bare' : null,
      checksum: hasData ? (size === 0 ? EMPTY_MD5 : randomHex(16)) : null,
      osHashAlgo: hasData ? 'sha512' : null,
      osHashValue: hasData ? (size === 0 ? EMPTY_SHA512 : randomHex(64)) : null,
      minDisk: spec.minDisk ?? 0,
      minRam: spec.minRam ?? 0,
      osHidden: spec.osHidden ?? false,
      createdAt: created,
      updatedAt: spec.updatedAt !== undefined ? floorSecond(toMs(spec.updatedAt, now)) : created,
      tags: spec.tags ? [...spec.tags] : [],
      props,
      inUse: false,
      job: null,
    };
  }

  addImage(spec: ImageSpec): ImageRec {
    const region = this.region(spec.region);
    const img = this.makeImage(spec, this.now());
    if (this.findImage(img.id)) throw new Error(`image ${img.id} already exists`);
    region.images.set(img.id, img);
    region.version++;
    return img;
  }

  addImages(regionName: string, count: number, fn?: (i: number) => Partial<ImageSpec>): ImageRec[] {
    const region = this.region(regionName);
    const now = this.now();
    const out: ImageRec[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const partial = fn ? fn(i) : {};
      const img = this.makeImage({ name: `image-${i}`, ...partial, region: regionName }, now);
      if (partial.id !== undefined && region.images.has(img.id)) throw new Error(`image ${img.id} already exists`);
      region.images.set(img.id, img);
      out[i] = img;
    }
    region.version++;
    return out;
  }

  findImage(id: string): ImageRec | undefined {
    for (const r of this.regions.values()) {
      const i = r.images.get(id);
      if (i) return i;
    }
    return undefined;
  }

  touchImage(img: ImageRec): void {
    img.updatedAt = floorSecond(this.now());
    const r = this.regions.get(img.region);
    if (r) r.version++;
  }

  deleteImage(img: ImageRec): void {
    const region = this.region(img.region);
    region.images.delete(img.id);
    // A deletion keeps every other row's filter result and order: patch the cached sorted listings
    // instead of invalidating them, so "list a page, delete, next page" stays O(n) per page.
    const next = region.version + 1;
    for (const entry of region.listCache.values()) {
      if (entry.version !== region.version) continue;
      const i = entry.sorted.indexOf(img);
      if (i >= 0) entry.sorted.splice(i, 1);
      entry.version = next;
    }
    region.version = next;
    const job = img.job;
    if (job) {
      // The upload fails once the image is gone; nova resets the task_state.
      job.phase = 2;
      img.job = null;
      const server = region.servers.get(job.serverId);
      if (server && server.job === job) {
        server.job = null;
        server.taskState = null;
        server.updatedAt = floorSecond(this.now());
      }
      this.jobs.delete(job);
    }
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
      diskFormat: img.diskFormat,
      containerFormat: img.containerFormat,
      checksum: img.checksum,
      minDisk: img.minDisk,
      minRam: img.minRam,
      osHidden: img.osHidden,
      tags: [...img.tags],
      createdAt: isoZ(img.createdAt),
      updatedAt: isoZ(img.updatedAt),
      properties: Object.fromEntries(img.props),
      inUse: img.inUse,
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Snapshots (Nova createImage)

  /** Image-backed snapshot: a queued Glance image that progresses over snapshotMs. */
  startImageSnapshot(
    s: ServerRec,
    name: string,
    metadata: Record<string, string>,
    fault: { outcome: SnapshotOutcome; afterMs?: number } | null,
  ): ImageRec {
    const region = this.region(s.region);
    const now = this.now();
    const d = this.snapshotMs;
    const outcome = fault?.outcome ?? 'active';
    const at = (def: number) => now + Math.min(Math.max(0, fault?.afterMs ?? def), d);
    let savingAt = now + d / 2;
    let finalAt = now + d;
    let taskEndAt = now + d;
    if (outcome === 'killed') {
      finalAt = at(0.75 * d);
      taskEndAt = finalAt;
    } else if (outcome === 'vanish') {
      finalAt = at(0.5 * d);
      taskEndAt = finalAt;
    } else if (outcome === 'stuck') {
      savingAt = Number.POSITIVE_INFINITY;
      finalAt = Number.POSITIVE_INFINITY;
      taskEndAt = now + Math.min(150, Math.max(d, 1));
    }
    if (savingAt >= finalAt) savingAt = Number.POSITIVE_INFINITY;
    const props = new Map<string, string>([
      ['base_image_ref', s.imageRef],
      ['owner_user_name', this.demo.username],
      ['owner_project_name', this.demo.projectName],
      ['boot_roles', this.roles.map((r) => r.name).join(',')],
      ['instance_uuid', s.id],
      ['user_id', this.demo.userId],
      ['image_type', 'snapshot'],
    ]);
    for (const [k, v] of Object.entries(metadata)) props.set(k, v);
    const img: ImageRec = {
      ...this.makeImage({ region: s.region, name, status: 'queued', size: null, minDisk: s.volumeSize }, now),
      props,
    };
    const job: SnapshotJob = { region: s.region, serverId: s.id, imageId: img.id, start: now, durationMs: d, outcome, savingAt, finalAt, taskEndAt, phase: 0 };
    img.job = job;
    s.job = job;
    s.taskState = null;
    s.updatedAt = floorSecond(now);
    region.images.set(img.id, img);
    region.version++;
    this.jobs.add(job);
    this.applyJob(job, now); // snapshotSeconds: 0 finishes at once
    return img;
  }

  /** Volume-backed snapshot: a Cinder snapshot plus an active, size-0 image holding the BDM. */
  volumeBackedSnapshot(s: ServerRec, name: string, metadata: Record<string, string>): { image: ImageRec; snapshot: VolSnapRec } {
    const region = this.region(s.region);
    const now = this.now();
    const snap = this.addVolumeSnapshot({ region: s.region, name: `snapshot for ${name}`, volumeId: s.rootVolumeId ?? uuid(), size: s.volumeSize });
    // Verbatim key order of the real one (openstack-loopback README).
    const bdm = `[{"source_type": "snapshot", "snapshot_id": "${snap.id}", "encryption_secret_uuid": null, "destination_type": "volume", "encrypted": null, "volume_size": ${s.volumeSize}, "image_id": null, "delete_on_termination": false, "boot_index": 0, "no_device": null, "volume_type": null, "device_name": "/dev/sda", "disk_bus": null, "encryption_format": null, "encryption_options": null, "guest_format": null, "device_type": null, "volume_id": null, "tag": null}]`;
    const props = new Map<string, string>([
      ['signature_verified', 'False'],
      ['base_image_ref', ''],
      ['owner_user_name', this.demo.username],
      ['owner_project_name', this.demo.projectName],
      ['boot_roles', this.roles.map((r) => r.name).join(',')],
    ]);
    for (const [k, v] of Object.entries(metadata)) props.set(k, v);
    props.set('root_device_name', '/dev/sda');
    props.set('block_device_mapping', bdm);
    props.set('bdm_v2', 'True');
    const img: ImageRec = {
      ...this.makeImage({ region: s.region, name, status: 'active', size: 0, diskFormat: 'qcow2', containerFormat: 'bare', minDisk: s.volumeSize }, now),
      props,
    };
    region.images.set(img.id, img);
    region.version++;
    return { image: img, snapshot: snap };
  }

  // ---------------------------------------------------------------------------------------------
  // Cinder snapshots

  addVolumeSnapshot(spec: VolumeSnapshotSpec): VolSnapRec {
    const region = this.region(spec.region);
    if (!region.hasCinder) throw new Error(`region ${spec.region} has no Cinder`);
    const now = this.now();
    const created = floorSecond(toMs(spec.createdAt, now));
    const snap: VolSnapRec = {
      id: spec.id ?? uuid(),
      region: spec.region,
      name: spec.name,
      description: null,
      status: spec.status ?? 'available',
      volumeId: spec.volumeId ?? uuid(),
      size: spec.size ?? 1,
      projectId: this.demo.projectId,
      createdAt: created,
      updatedAt: created,
      metadata: {},
      deleteAt: null,
    };
    region.volSnaps.set(snap.id, snap);
    return snap;
  }

  /** Every volume of the region as Cinder lists it: the servers' root volumes (attached), then the others. */
  volumes(region: string): { id: string; snapshotId: string | null; serverId: string | null }[] {
    const r = this.region(region);
    return [
      ...[...r.servers.values()].flatMap((s) => (s.rootVolumeId ? [{ id: s.rootVolumeId, snapshotId: null, serverId: s.id }] : [])),
      ...[...r.volumes.values()].map((v) => ({ id: v.id, snapshotId: v.snapshotId ?? null, serverId: v.serverId ?? null })),
    ];
  }

  deleteVolumeSnapshot(snap: VolSnapRec): void {
    const now = this.now();
    snap.status = 'deleting';
    snap.updatedAt = floorSecond(now);
    snap.deleteAt = now + 200;
    this.deletingSnaps.add(snap);
  }

  volSnapView(s: VolSnapRec): VolumeSnapshot {
    return {
      id: s.id,
      region: s.region,
      name: s.name,
      description: s.description,
      status: s.status,
      volumeId: s.volumeId,
      size: s.size,
      projectId: s.projectId,
      createdAt: isoMicroNaive(s.createdAt),
      updatedAt: isoMicroNaive(s.updatedAt),
      metadata: { ...s.metadata },
    };
  }

  // ---------------------------------------------------------------------------------------------
  // Tokens

  validToken(id: string | undefined): TokenRec | null {
    if (!id) return null;
    const t = this.tokens.get(id);
    if (!t || t.revoked || this.now() >= t.expiresAt) return null;
    return t;
  }

  expireTokens(): void {
    for (const t of this.tokens.values()) t.revoked = true;
  }
}
