// Public types of the local OpenStack-compatible cloud (see cloud.ts).

export type ServiceName = 'identity' | 'compute' | 'image' | 'volume';
export type RecordService = ServiceName | 'local';
export type EndpointInterface = 'public' | 'internal' | 'admin';

export interface LocalCloudOptions {
  /** Default 0 (a free port). Always binds 127.0.0.1. */
  port?: number;
  /** Default ['GRA7', 'SBG5']. Every region gets compute + image endpoints. */
  regions?: string[];
  /** Regions with a volumev3 (Cinder) endpoint. Default ['GRA7']. */
  cinderRegions?: string[];
  /** Duration of an image-backed snapshot (queued -> saving at half-time -> active). Default 2. */
  snapshotSeconds?: number;
  /** Nova's maximum microversion. Default '2.93'; '2.38' emulates an old (Newton) OVH region. */
  maxMicroversion?: string;
  /** Keystone token lifetime. Default 43200 (12 h, like the real loopback cloud; OVH uses 24 h). */
  tokenTtlSeconds?: number;
  /** Image endpoint in the catalog: 'root' (unversioned, like OVH; default) or 'versioned' (.../v2). */
  imageEndpointStyle?: 'root' | 'versioned';
  /**
   * Compute endpoint in the catalog: 'project' = .../v2.1/<project_id> (like OVH; default) or
   * 'plain' = .../v2.1 (like the loopback cloud). Both URL forms are always served.
   */
  computeEndpointStyle?: 'project' | 'plain';
  /** Seed one public base image ("Ubuntu 22.04", owned by another project) per region. Default true. */
  baseImages?: boolean;
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
  appCredName: string;
}

export interface ServerSpec {
  region: string;
  name: string;
  /** Boot-from-volume server: snapshots go through Cinder. Only in cinderRegions. */
  volumeBacked?: boolean;
  /** Nova status (ACTIVE, SHUTOFF, PAUSED, SUSPENDED, ERROR, BUILD, SHELVED_OFFLOADED, ...). Default ACTIVE. */
  status?: string;
  /** OS-EXT-STS:task_state. Default null. */
  taskState?: string | null;
  id?: string;
  createdAt?: Date | string;
  /** Root volume size in GB for volume-backed servers (default 1). */
  volumeSize?: number;
  /** The image an image-backed server was booted from (default: the region's base image). */
  imageRef?: string;
}

/** A volume beside the servers' root volumes: made from a Cinder snapshot, attached to a server, or both. */
export interface VolumeSpec {
  region: string;
  snapshotId?: string;
  serverId?: string;
  id?: string;
}

/** A server as the tests see it (a plain snapshot of the current state). */
export interface Server {
  id: string;
  region: string;
  name: string;
  status: string;
  vmState: string;
  taskState: string | null;
  volumeBacked: boolean;
  rootVolumeId: string | null;
  imageRef: string;
  projectId: string;
  createdAt: string;
  updatedAt: string;
}

export interface ImageSpec {
  region: string;
  name: string;
  id?: string;
  createdAt?: Date | string;
  updatedAt?: Date | string;
  /** Default 'active'. */
  status?: string;
  protected?: boolean;
  /** Default 'private'. */
  visibility?: string;
  /** Default: the demo project. */
  owner?: string;
  /** Custom (top-level) properties. Values must be strings, like in Glance. */
  properties?: Record<string, string>;
  /** Default 65536 for active images, null otherwise. */
  size?: number | null;
  diskFormat?: string | null;
  containerFormat?: string | null;
  minDisk?: number;
  minRam?: number;
  tags?: string[];
  osHidden?: boolean;
}

/** An image as the tests see it (a plain snapshot; custom properties under `properties`). */
export interface Image {
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
  minDisk: number;
  minRam: number;
  osHidden: boolean;
  tags: string[];
  createdAt: string;
  updatedAt: string;
  properties: Record<string, string>;
  inUse: boolean;
}

export interface VolumeSnapshot {
  id: string;
  region: string;
  name: string | null;
  description: string | null;
  status: string;
  volumeId: string;
  size: number;
  projectId: string;
  createdAt: string;
  updatedAt: string;
  metadata: Record<string, string>;
}

export interface VolumeSnapshotSpec {
  region: string;
  name: string;
  volumeId?: string;
  status?: string;
  size?: number;
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
  /** Which catalog interface's URL was used (null for /_local and unknown paths). */
  interface: EndpointInterface | null;
  /** HTTP status sent; 0 when the connection was reset without a response. */
  status: number;
  /** true for createImage (any POST but the token POST), DELETE, PATCH, PUT; false for GET and the token POST and for /_local. */
  mutating: boolean;
  /** The server action name for POST .../action (e.g. 'createImage'). */
  action?: string;
  /** The fault kind applied to this request, if any. */
  fault?: string;
}

export interface FaultMatch {
  method?: string;
  service?: ServiceName;
  /** Tested against the path including the query string. */
  path?: RegExp;
  region?: string;
  action?: 'createImage';
}

export type FaultKind =
  | { kind: 'status'; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: 'reset' }
  /** Respond only after `ms`. By default the request is executed at once and only the answer is held back;
   *  with beforeExecute: true it waits first, then executes (even if the client has gone by then). */
  | { kind: 'delay'; ms: number; beforeExecute?: boolean }
  | { kind: 'lose-response' }
  | { kind: 'expire-token' }
  | { kind: 'image-killed'; afterMs?: number }
  | { kind: 'image-vanish'; afterMs?: number }
  | { kind: 'stuck' };

export type FaultSpec = {
  match: FaultMatch;
  /** How many matching requests it applies to. Default 1. Infinity (or -1 over the admin API) = forever. */
  times?: number;
  /** Skip the first N matching requests. Default 0. */
  after?: number;
} & FaultKind;
