// Fixtures for the tests of the HTTP client's own wire behaviour (retries, redirects, 406, 401,
// secrets, logins) with nock: a Keystone token with an OVH-like catalog, and Nova server and
// Glance image bodies shaped as real clouds return them (see /work/shared/openstack-loopback/
// README.md, "Observed API behaviour"). Mode behaviour runs against the local cloud instead
// (in-process.ts).
import nock from 'nock';
import { after, afterEach, before, beforeEach } from 'node:test';
import { captureStdout, releaseStdout } from './step.ts';
import { Cloud, type CloudOptions } from '../../src/openstack/cloud.ts';
import type { Credentials } from '../../src/openstack/identity.ts';

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
export const VOLUME_ORIGIN = 'https://volume.compute.gra11.cloud.ovh.net';
export const VOLUME_PATH = `/v3/${PROJECT_ID}`;

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

interface CatalogOptions {
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
        endpoint('public', 'SBG5', `https://compute.sbg5.cloud.ovh.net${COMPUTE_PATH}`),
      ],
    },
    {
      type: 'image',
      name: 'glance',
      id: 'image-0',
      endpoints: [
        endpoint('public', REGION, options.imageUrl ?? `${IMAGE_ORIGIN}/`),
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

interface TokenOptions {
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

interface AuthMockOptions extends TokenOptions {
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

interface ServerOptions {
  id?: string;
  name?: string;
  taskState?: string | null;
  /** Booted from a volume: Nova shows `"image": ""`. */
  volumeBacked?: boolean;
}

/** A server as Nova's GET /servers/{id} and /servers/detail show it. */
export function serverBody(options: ServerOptions = {}) {
  const id = options.id ?? SERVER_ID;
  return {
    id,
    name: options.name ?? 'web',
    status: 'ACTIVE',
    tenant_id: PROJECT_ID,
    user_id: 'u-0001',
    metadata: {},
    tags: [],
    hostId: 'f0e1d2c3b4a5',
    image: options.volumeBacked ? '' : { id: BOOT_IMAGE_ID, links: [{ rel: 'bookmark', href: `${COMPUTE_ORIGIN}/${PROJECT_ID}/images/${BOOT_IMAGE_ID}` }] },
    flavor: { vcpus: 2, ram: 7000, disk: 50, ephemeral: 0, swap: 0, original_name: 'b2-7', extra_specs: {} },
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

// ---------------------------------------------------------------- The client and the test plumbing

export function newCloud(overrides: Partial<CloudOptions> = {}): Cloud {
  return new Cloud({ credentials: PASSWORD_CREDENTIALS, region: REGION, iface: 'public', ...overrides });
}

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
