// Shared fixtures for the unit tests: a Keystone token response with an OVH-like catalog,
// Nova server and Glance image bodies shaped as real clouds return them (see
// /work/shared/openstack-loopback/README.md, "Observed API behaviour"), a Settings builder,
// and helpers to keep @actions/core quiet and assert on what it wrote.
import assert from 'node:assert/strict';
import nock from 'nock';
import { after, afterEach, before, beforeEach } from 'node:test';
import { Cloud, type CloudOptions } from '../../src/openstack/cloud.ts';
import type { Credentials } from '../../src/openstack/identity.ts';
import { DEFAULT_NAME_TEMPLATE } from '../../src/lib/name-template.ts';
import type { Selection } from '../../src/settings/selection.ts';
import type { FleetResult } from '../../src/modes/fleet.ts';
import type { Outcome, StepError } from '../../src/modes/outcome.ts';
import type { CommonSettings } from '../../src/settings/common.ts';
import type { CreateSettings } from '../../src/settings/create.ts';
import type { DeleteSettings } from '../../src/settings/delete.ts';
import type { Retention } from '../../src/settings/inputs.ts';
import type { PruneSettings } from '../../src/settings/prune.ts';
import type { RestoreSettings } from '../../src/settings/restore.ts';
import { readSettings, SettingsError } from '../../src/settings/settings.ts';

export const PROJECT_ID = '5f3b8a1c9d2e4f60a7b8c9d0e1f2a3b4';
export const REGION = 'GRA11';
export const TOKEN = 'gAAAAABn-unit-test-token-0001';
export const PASSWORD = 'Pa55word-that-must-stay-secret';
export const APP_SECRET = 'app-cred-secret-that-must-stay-secret';

export const AUTH_ORIGIN = 'https://auth.cloud.ovh.net';
export const AUTH_URL = `${AUTH_ORIGIN}/v3`;
export const COMPUTE_ORIGIN = 'https://compute.gra11.cloud.ovh.net';
/** The path of the compute endpoint (Nova's URLs carry the version and the project). */
export const COMPUTE_PATH = `/v2.1/${PROJECT_ID}`;
export const COMPUTE_INTERNAL_ORIGIN = 'https://compute.gra11.internal.cloud.ovh.net';
/** OVH lists Glance unversioned, with a trailing slash. */
export const IMAGE_ORIGIN = 'https://image.compute.gra11.cloud.ovh.net';
export const IMAGE_URL = `${IMAGE_ORIGIN}/`;
export const VOLUME_ORIGIN = 'https://volume.compute.gra11.cloud.ovh.net';
export const VOLUME_PATH = `/v3/${PROJECT_ID}`;
export const SBG_COMPUTE_ORIGIN = 'https://compute.sbg5.cloud.ovh.net';

export const SERVER_ID = '7d1e4a52-3c6b-4e8f-9a0d-1b2c3d4e5f60';
/** Nova's path of SERVER_ID. */
export const SERVER_PATH = `${COMPUTE_PATH}/servers/${SERVER_ID}`;
export const BOOT_IMAGE_ID = '0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d';
export const IMAGE_ID = 'e30f3c46-9743-46a5-bf50-6ddf396c50fb';

export const PASSWORD_CREDENTIALS: Credentials = {
  method: 'password',
  authUrl: AUTH_URL,
  username: 'user-AbCdEf123456',
  password: PASSWORD,
  userDomainName: 'Default',
  projectId: PROJECT_ID,
  projectDomainName: 'Default',
};

// ---------------------------------------------------------------- Keystone

export interface CatalogOptions {
  /** The image endpoint of GRA11 (public): unversioned by default, as OVH lists it. */
  imageUrl?: string;
  /** Include the Cinder v3 endpoints (as `volumev3`, the way Zed and OVH list them). */
  volume?: boolean;
}

const endpoint = (iface: string, region: string, url: string) => ({
  id: `${region}-${iface}-${url.length}`,
  interface: iface,
  region,
  region_id: region,
  url,
});

/** A token catalog with GRA11 (public and internal URLs that differ) and SBG5 (public only). */
export function catalog(options: CatalogOptions = {}) {
  const entries = [
    {
      type: 'identity',
      name: 'keystone',
      id: 'identity-0',
      endpoints: [endpoint('public', REGION, AUTH_URL), endpoint('public', 'SBG5', AUTH_URL)],
    },
    {
      type: 'compute',
      name: 'nova',
      id: 'compute-0',
      endpoints: [
        endpoint('public', REGION, `${COMPUTE_ORIGIN}${COMPUTE_PATH}`),
        endpoint('internal', REGION, `${COMPUTE_INTERNAL_ORIGIN}${COMPUTE_PATH}`),
        endpoint('public', 'SBG5', `${SBG_COMPUTE_ORIGIN}${COMPUTE_PATH}`),
      ],
    },
    {
      type: 'image',
      name: 'glance',
      id: 'image-0',
      endpoints: [
        endpoint('public', REGION, options.imageUrl ?? IMAGE_URL),
        endpoint('internal', REGION, 'https://image.compute.gra11.internal.cloud.ovh.net/'),
        endpoint('public', 'SBG5', 'https://image.compute.sbg5.cloud.ovh.net/'),
      ],
    },
  ];
  if (options.volume !== false) {
    entries.push({
      type: 'volumev3',
      name: 'cinderv3',
      id: 'volume-0',
      endpoints: [
        endpoint('public', REGION, `${VOLUME_ORIGIN}${VOLUME_PATH}`),
        endpoint('public', 'SBG5', `https://volume.compute.sbg5.cloud.ovh.net${VOLUME_PATH}`),
      ],
    });
  }
  return entries;
}

export interface TokenOptions {
  token?: string;
  /** Default: a day from now (OVH issues 24 h tokens). */
  expiresAt?: Date;
  catalog?: ReturnType<typeof catalog>;
  projectId?: string;
}

/** The body of Keystone's 201 to POST /v3/auth/tokens (the token itself is in X-Subject-Token). */
export function tokenBody(options: TokenOptions = {}) {
  const now = new Date();
  return {
    token: {
      methods: ['password'],
      user: { domain: { id: 'default', name: 'Default' }, id: 'u-0001', name: 'user-AbCdEf123456', password_expires_at: null },
      audit_ids: ['aUdItId0001'],
      expires_at: (options.expiresAt ?? new Date(now.getTime() + 86_400_000)).toISOString(),
      issued_at: now.toISOString(),
      project: { domain: { id: 'default', name: 'Default' }, id: options.projectId ?? PROJECT_ID, name: '1234567890123456' },
      is_domain: false,
      roles: [{ id: 'r-1', name: 'member' }],
      catalog: options.catalog ?? catalog(),
    },
  };
}

export interface AuthMockOptions extends TokenOptions {
  /** How many authentications this interceptor answers. */
  times?: number;
  /** Called with each request body; return false to not match. */
  body?: (body: unknown) => boolean;
}

/** Keystone answering POST /v3/auth/tokens with 201, a token header and a catalog. */
export function mockAuth(options: AuthMockOptions = {}): nock.Scope {
  const token = options.token ?? TOKEN;
  return nock(AUTH_ORIGIN)
    .post('/v3/auth/tokens', options.body ?? (() => true))
    .times(options.times ?? 1)
    .reply(201, () => tokenBody(options), { 'X-Subject-Token': token, 'Content-Type': 'application/json' });
}

// ---------------------------------------------------------------- Nova

export interface ServerOptions {
  id?: string;
  name?: string;
  status?: string;
  taskState?: string | null;
  /** Booted from a volume: Nova shows `"image": ""`. */
  volumeBacked?: boolean;
  /** The image it runs (default BOOT_IMAGE_ID). */
  imageId?: string;
  /** Shown as below 2.47: a flavor ID (Nova's GET /flavors/{id} gives its disk). */
  flavorId?: string;
  /** Nova's fault of a server in ERROR. */
  fault?: string;
  metadata?: Record<string, string>;
  /** Instance tags (shown from microversion 2.26). */
  tags?: string[];
  /** Its project (`tenant_id`; default PROJECT_ID): an admin login sees other projects' servers by ID. */
  projectId?: string;
}

/** A server as Nova's GET /servers/{id} and /servers/detail show it. */
export function serverBody(options: ServerOptions = {}) {
  const id = options.id ?? SERVER_ID;
  return {
    id,
    name: options.name ?? 'web',
    status: options.status ?? 'ACTIVE',
    tenant_id: options.projectId ?? PROJECT_ID,
    user_id: 'u-0001',
    metadata: options.metadata ?? {},
    tags: options.tags ?? [],
    hostId: 'f0e1d2c3b4a5',
    image: options.volumeBacked
      ? ''
      : {
          id: options.imageId ?? BOOT_IMAGE_ID,
          links: [{ rel: 'bookmark', href: `${COMPUTE_ORIGIN}/${PROJECT_ID}/images/${options.imageId ?? BOOT_IMAGE_ID}` }],
        },
    flavor: options.flavorId
      ? { id: options.flavorId, links: [{ rel: 'bookmark', href: `${COMPUTE_ORIGIN}/${PROJECT_ID}/flavors/${options.flavorId}` }] }
      : { vcpus: 2, ram: 7000, disk: 50, ephemeral: 0, swap: 0, original_name: 'b2-7', extra_specs: {} },
    ...(options.fault ? { fault: { code: 500, message: options.fault, created: '2025-01-02T00:00:00Z' } } : {}),
    created: '2025-01-01T00:00:00Z',
    updated: '2025-01-02T00:00:00Z',
    addresses: {},
    accessIPv4: '',
    accessIPv6: '',
    links: [{ rel: 'self', href: `${COMPUTE_ORIGIN}${COMPUTE_PATH}/servers/${id}` }],
    'OS-DCF:diskConfig': 'AUTO',
    'OS-EXT-AZ:availability_zone': 'nova',
    'OS-EXT-STS:power_state': 1,
    'OS-EXT-STS:task_state': options.taskState ?? null,
    'OS-EXT-STS:vm_state': 'active',
    'os-extended-volumes:volumes_attached': options.volumeBacked ? [{ id: 'vol-root-0001', delete_on_termination: false }] : [],
  };
}

export interface CreateImageBody {
  createImage: { name: string; metadata: Record<string, string> };
}

/**
 * Nova showing `server` (idle by default) and accepting its createImage with 202 {"image_id"}
 * (2.45 and later). Returns the POST bodies as they arrive.
 */
export function mockSnapshotAccepted(server: ReturnType<typeof serverBody> = serverBody(), imageId = IMAGE_ID): CreateImageBody[] {
  const bodies: CreateImageBody[] = [];
  nock(COMPUTE_ORIGIN)
    .get(SERVER_PATH)
    .reply(200, { server })
    .post(`${SERVER_PATH}/action`, (body: CreateImageBody) => (bodies.push(body), true))
    .reply(202, { image_id: imageId });
  return bodies;
}

// ---------------------------------------------------------------- Glance

/** A Glance v2 image (custom properties at the top level, as Glance shows them). */
export function imageBody(overrides: Record<string, unknown> = {}) {
  const id = (overrides.id as string | undefined) ?? IMAGE_ID;
  return {
    id,
    name: 'web-20250101-000000',
    status: 'active',
    visibility: 'private',
    protected: false,
    owner: PROJECT_ID,
    disk_format: 'qcow2',
    container_format: 'bare',
    size: 65536,
    virtual_size: null,
    min_disk: 50,
    min_ram: 0,
    checksum: 'd41d8cd98f00b204e9800998ecf8427e',
    created_at: '2025-01-01T00:00:00Z',
    updated_at: '2025-01-01T00:00:05Z',
    tags: [],
    os_hidden: false,
    image_type: 'snapshot',
    instance_uuid: SERVER_ID,
    base_image_ref: BOOT_IMAGE_ID,
    self: `/v2/images/${id}`,
    file: `/v2/images/${id}/file`,
    schema: '/v2/schemas/image',
    ...overrides,
  };
}

/** The empty image Nova makes for a volume-backed server: active at once, size 0, Cinder snapshots in block_device_mapping. */
export function volumeBackedImageBody(snapshotIds: string[], overrides: Record<string, unknown> = {}) {
  const { image_type: _t, instance_uuid: _i, ...base } = imageBody(overrides);
  return {
    ...base,
    size: 0,
    bdm_v2: 'True',
    root_device_name: '/dev/sda',
    base_image_ref: '',
    block_device_mapping: JSON.stringify(
      snapshotIds.map((snapshotId, index) => ({
        source_type: 'snapshot',
        snapshot_id: snapshotId,
        destination_type: 'volume',
        volume_size: 1,
        image_id: null,
        delete_on_termination: false,
        boot_index: index === 0 ? 0 : null,
        device_name: `/dev/sd${String.fromCharCode(97 + index)}`,
        volume_id: null,
      })),
    ),
    ...overrides,
  };
}

/** Glance's JSON 404 body (it answers HTML unless asked for JSON; the client asks for JSON). */
export const glanceNotFound = (id: string) => ({ message: `No image found with ID ${id}<br /><br />\n\n\n`, code: '404 Not Found', title: 'Not Found' });

// ---------------------------------------------------------------- Settings and the cloud

const COMMON: CommonSettings = {
  region: REGION,
  iface: 'public',
  credentials: PASSWORD_CREDENTIALS,
  tls: { insecure: false },
  rateLimit: 0,
  dryRun: false,
  provenance: {},
};

/** The servers named, and those with every tag and metadata pair given. */
export const selection = (...names: string[]): Selection => ({ names, tags: [], metadata: {}, allowEmpty: false });

export const createSettings = (overrides: Partial<CreateSettings> = {}): CreateSettings => ({
  ...COMMON,
  mode: 'create',
  servers: selection(SERVER_ID),
  stopInstance: false,
  concurrency: 4,
  template: DEFAULT_NAME_TEMPLATE,
  metadata: {},
  wait: true,
  timeoutMs: 30_000,
  ...overrides,
});

export const deleteSettings = (overrides: Partial<DeleteSettings> = {}): DeleteSettings => ({
  ...COMMON,
  mode: 'delete',
  target: { imageId: IMAGE_ID },
  ignoreMissing: false,
  deleteInUse: false,
  ...overrides,
});

export const retention = (overrides: Partial<Retention> = {}): Retention => ({
  policy: { last: 1 },
  includeUnmanaged: false,
  maxDeletes: 100,
  concurrency: 4,
  ...overrides,
});

export const restoreSettings = (overrides: Partial<RestoreSettings> = {}): RestoreSettings => ({
  ...COMMON,
  mode: 'restore',
  servers: selection(SERVER_ID),
  concurrency: 4,
  snapshot: { newest: true },
  allowOtherInstance: false,
  snapshotBefore: false,
  timeoutMs: 30_000,
  ...overrides,
});

export const pruneSettings = (overrides: Partial<PruneSettings> = {}): PruneSettings => ({ ...COMMON, mode: 'prune', retention: retention(), ...overrides });

/** The result of a mode that must have succeeded, for one server (not a fleet). */
export function succeeded<R>(outcome: Outcome<R>): Exclude<R, FleetResult> {
  assert.equal(outcome.failure, undefined, outcome.failure?.message);
  assert.ok(outcome.result, 'a result');
  assert.notEqual((outcome.result as { mode?: string }).mode, 'fleet', 'one server, not a fleet');
  return outcome.result as Exclude<R, FleetResult>;
}

/** The failure of a mode that must have failed. */
export function failed(outcome: Outcome<unknown>): StepError {
  assert.ok(outcome.failure, 'the step should have failed');
  return outcome.failure;
}

export function newCloud(overrides: Partial<CloudOptions> = {}): Cloud {
  return new Cloud({ credentials: PASSWORD_CREDENTIALS, region: REGION, iface: 'public', ...overrides });
}

// ---------------------------------------------------------------- Inputs

/** Remove every INPUT_* and OS_* variable: inputs and an openrc must not leak between tests. */
export function clearActionEnv(): void {
  for (const key of Object.keys(process.env)) if (key.startsWith('INPUT_') || key.startsWith('OS_')) delete process.env[key];
}

/** Set inputs the way the runner does: INPUT_<NAME>, upper case, hyphens kept. */
export function setInputs(values: Record<string, string>): void {
  for (const [name, value] of Object.entries(values)) process.env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
}

/** The problems readSettings reports for the current inputs (it must refuse them). */
export function settingsProblems(): string[] {
  try {
    readSettings();
  } catch (error) {
    assert.ok(error instanceof SettingsError, String(error));
    return error.problems;
  }
  assert.fail('the inputs were accepted');
}

// ---------------------------------------------------------------- What the deletion checks read

/**
 * The rest of the project, as the checks before a deletion read it (persisted listings): the
 * servers (by default none, so no image is in use), Cinder's volumes and snapshots, and the
 * project's images (the owner-only listing that finds other images naming a volume snapshot).
 */
export const project = {
  servers: [] as ReturnType<typeof serverBody>[],
  volumes: [] as { id: string; snapshot_id?: string | null; attachments?: { server_id: string }[] }[],
  volumeSnapshots: [] as { id: string; name: string | null; volume_id: string; status?: string; 'os-extended-snapshot-attributes:project_id'?: string }[],
  images: [] as Record<string, unknown>[],
};

/** A Cinder snapshot as Nova makes it for the image `imageName`. */
export const novaVolumeSnapshot = (id: string, imageName: string, volumeId = 'vol-root-0001') => ({
  id,
  name: `snapshot for ${imageName}`,
  volume_id: volumeId,
  status: 'available',
});

export function useProject(): void {
  beforeEach(() => {
    Object.assign(project, { servers: [], volumes: [], volumeSnapshots: [], images: [] });
    nock(COMPUTE_ORIGIN)
      .persist()
      .get(`${COMPUTE_PATH}/servers/detail`)
      .query({ limit: '1000' })
      .reply(() => [200, { servers: project.servers }]);
    nock(VOLUME_ORIGIN)
      .persist()
      .get(`${VOLUME_PATH}/volumes/detail`)
      .query({ limit: '1000' })
      .reply(() => [200, { volumes: project.volumes }])
      .get(new RegExp(`^${VOLUME_PATH}/snapshots/[^/?]+$`))
      .reply((request: Request) => {
        const snapshot = project.volumeSnapshots.find((s) => new URL(request.url).pathname.endsWith(`/${s.id}`));
        return snapshot
          ? [200, { snapshot: { status: 'available', ...snapshot } }]
          : [404, { itemNotFound: { code: 404, message: 'Snapshot could not be found.' } }];
      });
    nock(IMAGE_ORIGIN)
      .persist()
      .get('/v2/images')
      .query({ limit: '1000', owner: PROJECT_ID })
      .reply(() => [200, { images: project.images }]);
  });
}

// ---------------------------------------------------------------- Test plumbing

/** Requests no interceptor matched, as `METHOD url`. */
export const unmatched: string[] = [];
nock.emitter.on('no match', (req: { method?: string; url?: string; href?: string }) => {
  unmatched.push(`${req.method ?? '?'} ${req.url ?? req.href ?? '?'}`);
});

/**
 * For a test file: no real network, no mock left over between tests, an empty record of
 * unmatched requests at the start of each test, and @actions/core's output captured.
 */
export function useNock(): void {
  before(() => nock.disableNetConnect());
  beforeEach(() => {
    unmatched.length = 0;
    captureStdout();
  });
  afterEach(() => {
    releaseStdout();
    nock.cleanAll();
  });
  after(() => nock.enableNetConnect());
}

let original: typeof process.stdout.write | undefined;
let captured = '';

/**
 * Swallow (and keep) the text written to stdout: @actions/core writes its log lines and
 * workflow commands there as strings, while the test runner's own reports to its parent are
 * Buffers, which pass through. TEST_VERBOSE=1 lets the text through too.
 */
export function captureStdout(): void {
  captured = '';
  if (original) return;
  original = process.stdout.write;
  const passThrough = original;
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk === 'string') {
      captured += chunk;
      if (!process.env.TEST_VERBOSE) return true;
    }
    return (passThrough as (...args: unknown[]) => boolean).call(process.stdout, chunk, ...rest);
  }) as typeof process.stdout.write;
}

export function releaseStdout(): void {
  if (original) process.stdout.write = original;
  original = undefined;
}

/** What was written to stdout since the capture started (or was last cleared). */
export function stdout(): string {
  return captured;
}

/**
 * A network failure for `.replyWithError()` or to throw from a reply function. It must be an
 * Error: nock 15 hands a plain `{code}` object to got 16 in a way got never sees, and the
 * request then hangs until its timeout.
 *
 * (Another nock 15 + got 16 trap: `.delay()` on a request with a body answers ECONNRESET at
 * once. To answer a POST late, sleep in an async reply function instead.)
 */
export const netError = (code: string, message = `${code} (mocked)`) => Object.assign(new Error(message), { code });

/** Milliseconds since `start`. */
export const since = (start: number) => Date.now() - start;
