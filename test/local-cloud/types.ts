// Public types of the local cloud (see cloud.ts).

export type ServiceName = 'identity' | 'compute' | 'image' | 'volume';
/** 'local': a path no service answers (recorded all the same). */
export type RecordService = ServiceName | 'local';
export type EndpointInterface = 'public' | 'internal' | 'admin';

export interface LocalCloudOptions {
  /** Default 0 (a free port). Always binds 127.0.0.1. */
  port?: number;
  /** Duration of an image-backed snapshot (queued -> saving at half-time -> active). Default 2. */
  snapshotSeconds?: number;
  /**
   * The two phases on their own, as the loopback cloud's OSL_SNAPSHOT_CAPTURE_S and
   * OSL_SNAPSHOT_UPLOAD_S: the capture (task states up to image_pending_upload, the image queued),
   * then the upload (image_uploading, the image saving). Each defaults to half of snapshotSeconds.
   */
  captureSeconds?: number;
  uploadSeconds?: number;
  /** Duration of a rebuild (rebuilding -> rebuild_block_device_mapping -> rebuild_spawning). Default 1. */
  rebuildSeconds?: number;
  /** Duration of os-stop / os-start (powering-off, powering-on). Default 0.5. */
  powerSeconds?: number;
  /** Duration of a server's boot (BUILD, spawning), and of its delete (task deleting). Defaults 1 and 0.5. */
  bootSeconds?: number;
  deleteSeconds?: number;
  /** Nova's maximum microversion. Default '2.93' (the loopback cloud's); '2.38' is an old OVH region. */
  maxMicroversion?: string;
  /** Glance's api_limit_max: the most images one page lists, whatever limit is asked for. Default 1000. */
  imagePageMax?: number;
  /** Keystone token lifetime. Default 43200 (12 h, like the loopback cloud). */
  tokenTtlSeconds?: number;
  /** Serve HTTPS with this key and certificate (PEM), the catalog's endpoints too. Default: plain HTTP. */
  tls?: { key: string; cert: string };
}

export interface DemoCredentials {
  username: string;
  password: string;
  userId: string;
  projectId: string;
  projectName: string;
  userDomainName: string;
  projectDomainName: string;
  appCredId: string;
  appCredSecret: string;
}

export interface ServerSpec {
  region: string;
  name: string;
  /** Boot-from-volume server (GRA7 only, the region with Cinder): snapshots go through Cinder. */
  volumeBacked?: boolean;
  /** Nova status (ACTIVE, SHUTOFF, PAUSED, ERROR, REBOOT, ...). Default ACTIVE. */
  status?: string;
  /** OS-EXT-STS:task_state. Default: the status's (null for ACTIVE). */
  taskState?: string | null;
  id?: string;
  createdAt?: Date | string;
  /** The image the server (or its boot volume) was made from. Default: the region's base image. */
  imageRef?: string;
  metadata?: Record<string, string>;
  /** Nova server tags (shown and filtered on from microversion 2.26). */
  tags?: string[];
  /** One of the cloud's flavors (FLAVORS in world.ts). Default b2-7. */
  flavorId?: string;
  /**
   * Its project (`tenant_id`; default the demo project). Another project's server is shown by its
   * ID, as Nova shows it to a login with the admin role, and never in the project's listing (no all_tenants).
   * null: Nova shows no tenant_id.
   */
  projectId?: string | null;
}

/** A volume beside the servers' root volumes: made from a Cinder snapshot, attached to a server, or both. */
export interface VolumeSpec {
  region: string;
  snapshotId?: string;
  serverId?: string;
  id?: string;
  metadata?: Record<string, string>;
  createdAt?: Date | string;
  /** Cinder deletes in the background: gone once this time has come. */
  deleteAt?: number;
}

/** A server as the tests see it (a copy of the current state). */
export interface Server {
  id: string;
  region: string;
  name: string;
  status: string;
  vmState: string;
  taskState: string | null;
  volumeBacked: boolean;
  rootVolumeId: string | null;
  /** The image it was booted (or last rebuilt) from; for a volume-backed server, its boot volume's. */
  imageRef: string;
  createdAt: string;
  updatedAt: string;
}

export interface ImageSpec {
  region: string;
  name: string | null;
  id?: string;
  createdAt?: Date | string;
  /** Default 'active'. */
  status?: string;
  protected?: boolean;
  /** Default 'private'. */
  visibility?: string;
  /** Default: the demo project. */
  owner?: string;
  /** Custom (top-level) properties. Strings, as Glance stores them. */
  properties?: Record<string, string>;
  /** Default 65536 for active images, null otherwise. */
  size?: number | null;
  minDisk?: number;
}

/** An image as the tests see it (custom properties under `properties`). */
export interface Image {
  id: string;
  region: string;
  name: string | null;
  status: string;
  visibility: string;
  protected: boolean;
  owner: string | null;
  size: number | null;
  createdAt: string;
  updatedAt: string;
  properties: Record<string, string>;
  inUse: boolean;
}

export interface VolumeSnapshot {
  id: string;
  region: string;
  name: string | null;
  status: string;
  volumeId: string;
  size: number;
  createdAt: string;
}

export interface VolumeSnapshotSpec {
  region: string;
  name: string;
  volumeId?: string;
  status?: string;
  createdAt?: Date | string;
  id?: string;
}

export interface RequestRecord {
  /** ms since the cloud started (real time, unaffected by advance()). */
  t: number;
  method: string;
  /** Path with query string, as received. */
  path: string;
  service: RecordService;
  region: string | null;
  /** Which catalog interface's URL was used (null for unknown paths). */
  interface: EndpointInterface | null;
  /** HTTP status sent; 0 when the connection was reset without a response. */
  status: number;
  /** Anything but a GET and the token POST: what a dry run must never send. */
  mutating: boolean;
  /** The server action of POST .../action (createImage, rebuild), and its arguments. */
  action?: string;
  args?: unknown;
  /** The fault kind applied to this request, if any. */
  fault?: string;
  /** When the answer was sent (ms since the cloud started); unset while it is awaited, and when none came. */
  end?: number;
}

export interface FaultMatch {
  method?: string;
  service?: ServiceName;
  /** Tested against the path including the query string. */
  path?: RegExp;
  region?: string;
  action?: 'createImage' | 'rebuild' | 'os-stop' | 'os-start' | 'os-getConsoleOutput';
}

export type FaultKind =
  /** Answer this instead; with `executed`, only once the request was executed (a front end that gave up waiting for the service). */
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string>; executed?: boolean }
  | { kind: 'reset' }
  /** Answer only after `ms`. By default the request is executed at once and only the answer is held back;
   *  with beforeExecute: true it waits first, then executes (even if the client has gone by then). */
  | { kind: 'delay'; ms: number; beforeExecute?: boolean }
  | { kind: 'lose-response' }
  | { kind: 'expire-token' }
  /** Glance lists as if the query had no filters, every project's images included (as an admin's listing, or a careless front end). */
  | { kind: 'unfiltered' }
  /** The image ends in `status` (default killed; Glance's other dead ends: deleted, pending_delete, deactivated). */
  | { kind: 'image-killed'; afterMs?: number; status?: string }
  | { kind: 'image-vanish'; afterMs?: number }
  | { kind: 'stuck' }
  /** The next rebuild is accepted, then fails on the compute host: ERROR, with this fault message. */
  | { kind: 'rebuild-error'; message: string }
  /** The next server create is accepted, then the boot fails on the compute host: ERROR, with this fault message. */
  | { kind: 'boot-error'; message: string }
  /** The next server create is accepted and never ends its BUILD. */
  | { kind: 'boot-stuck' }
  /** The image data a PUT …/file sends is stored with one byte changed (its hashes then differ from the source's). */
  | { kind: 'corrupt-data' }
  /** A PUT …/file answered with `status` as soon as it arrives, before its data ended (the rest is drained): Glance's 413 over image_size_cap, a front end's 503. */
  | { kind: 'upload-refused'; status: number; body?: unknown };

export type FaultSpec = {
  match: FaultMatch;
  /** How many matching requests it applies to. Default 1; Infinity: forever. */
  times?: number;
  /** Skip the first N matching requests. Default 0. */
  after?: number;
} & FaultKind;
