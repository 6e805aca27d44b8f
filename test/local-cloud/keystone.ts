// Keystone v3: tokens (password, application credential), the catalog, and the 401s every
// service sends for a missing or expired token. Shapes as the loopback cloud's Keystone 22 (Zed).
import { randomBytes } from 'node:crypto';
import type { EndpointInterface } from './types.ts';
import type { TokenRec, World } from './world.ts';
import { hex32, isObject, isoMicroZ, json, parseJson, webobError, type Ctx, type Reply } from './http.ts';

const IFACES: EndpointInterface[] = ['public', 'internal', 'admin'];
const suffix = (i: EndpointInterface) => (i === 'public' ? '' : `-${i}`);
type ServiceType = 'identity' | 'compute' | 'image' | 'volumev3';

/** Catalog URLs: internal and admin ones under their own prefixes (/compute-internal/...), so a test sees which was used. */
function endpointUrl(w: World, type: ServiceType, region: string, iface: EndpointInterface): string {
  const pid = w.demo.projectId;
  switch (type) {
    case 'identity':
      return `${w.base}/identity${suffix(iface)}/v3`;
    case 'compute':
      // With the project ID, like OVH's.
      return `${w.base}/compute${suffix(iface)}/${region}/v2.1/${pid}`;
    case 'image':
      // Unversioned, like OVH's.
      return `${w.base}/glance${suffix(iface)}/${region}`;
    case 'volumev3':
      return `${w.base}/volume${suffix(iface)}/${region}/v3/${pid}`;
  }
}

function catalog(w: World): unknown[] {
  const regions = [...w.regions.values()];
  const services: [ServiceType, string, string[]][] = [
    ['identity', 'keystone', regions.map((r) => r.name)],
    ['compute', 'nova', regions.map((r) => r.name)],
    ['image', 'glance', regions.map((r) => r.name)],
    ['volumev3', 'cinderv3', regions.filter((r) => r.hasCinder).map((r) => r.name)],
  ];
  return services.map(([type, name, names]) => ({
    endpoints: names.flatMap((region) =>
      IFACES.map((iface) => ({ id: hex32(), interface: iface, region_id: region, url: endpointUrl(w, type, region, iface), region })),
    ),
    id: hex32(),
    type,
    name,
  }));
}

const UNAUTH = 'The request you have made requires authentication.';

/** Keystone's own errors: compact JSON (flask jsonify) {"error": {"code", "message", "title"}}. */
function ksError(w: World, status: number, message: string): Reply {
  const title = status === 400 ? 'Bad Request' : status === 401 ? 'Unauthorized' : 'Not Found';
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Vary: 'X-Auth-Token' };
  if (status === 401) headers['WWW-Authenticate'] = `Keystone uri="${w.base}/identity/v3"`;
  return { status, headers, body: JSON.stringify({ error: { code: status, message, title } }) };
}

/** The name (with its domain) or ID of the demo user or project, as `ref` gives it. */
function names(ref: Record<string, unknown>, id: string, name: string): boolean {
  if (typeof ref.id === 'string') return ref.id === id;
  const domain = isObject(ref.domain) ? ref.domain : {};
  return ref.name === name && (domain.id === 'default' || domain.name === 'Default');
}

/** Who the auth body proves to be: 'password', 'appcred', or the valid token it rescopes; or the error reply. */
function authenticateBody(w: World, auth: Record<string, unknown>): 'password' | 'appcred' | TokenRec | Reply {
  const identity = isObject(auth.identity) ? auth.identity : {};
  const methods = Array.isArray(identity.methods) ? identity.methods : [];
  if (methods.includes('token')) {
    const id = isObject(identity.token) ? String(identity.token.id) : '';
    const given = w.validToken(id);
    // An unknown, expired or revoked token is not found (404), as Keystone's token provider says.
    if (!given) return ksError(w, 404, `Could not find token: ${id}.`);
    const project = isObject(auth.scope) && isObject(auth.scope.project) ? auth.scope.project : {};
    return names(project, w.demo.projectId, w.demo.projectName) ? given : ksError(w, 401, UNAUTH);
  }
  if (methods.includes('application_credential')) {
    const ac = isObject(identity.application_credential) ? identity.application_credential : {};
    // The credential carries its own scope.
    if (auth.scope !== undefined) return ksError(w, 401, 'Error authenticating with application credential: Application credentials cannot request a scope.');
    if (ac.id !== w.demo.appCredId) return ksError(w, 404, `Could not find Application Credential: ${String(ac.id)}.`);
    return ac.secret === w.demo.appCredSecret ? 'appcred' : ksError(w, 401, UNAUTH);
  }
  const password = isObject(identity.password) && isObject(identity.password.user) ? identity.password.user : undefined;
  if (!methods.includes('password') || !password)
    return ksError(
      w,
      400,
      'Expecting to find user in password. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.',
    );
  if (!names(password, w.demo.userId, w.demo.username) || password.password !== w.demo.password) return ksError(w, 401, UNAUTH);
  const project = isObject(auth.scope) && isObject(auth.scope.project) ? auth.scope.project : undefined;
  // Unscoped: the user's default project (demo), like the loopback's demo user.
  if (project && !names(project, w.demo.projectId, w.demo.projectName)) return ksError(w, 401, UNAUTH);
  return 'password';
}

function issueToken(w: World, ctx: Ctx): Reply {
  const body = parseJson(ctx.body);
  if (!isObject(body) || !isObject(body.auth)) return ksError(w, 400, "Invalid input for field 'auth': 'auth' is a required property");
  const who = authenticateBody(w, body.auth);
  if (typeof who !== 'string' && 'status' in who) return who;
  const now = w.now();
  const t: TokenRec = {
    // Fernet-looking (the real ones start with gAAAAA and are ~180 URL-safe characters).
    id: `gAAAAA${randomBytes(132).toString('base64url')}`,
    projectId: w.demo.projectId,
    userId: w.demo.userId,
    methods: who === 'appcred' ? ['application_credential'] : who === 'password' ? ['password'] : [...who.methods, 'token'],
    issuedAt: now,
    // A rescoped token expires with the one it came from.
    expiresAt: typeof who === 'string' ? now + w.tokenTtlMs : who.expiresAt,
    revoked: false,
    auditId: randomBytes(16).toString('base64url').slice(0, 22),
    appCred: who === 'appcred',
  };
  w.tokens.set(t.id, t);
  const domain = { id: 'default', name: 'Default' };
  const token = {
    methods: t.methods,
    user: { domain, id: t.userId, name: w.demo.username, password_expires_at: null },
    audit_ids: [t.auditId],
    expires_at: isoMicroZ(t.expiresAt),
    issued_at: isoMicroZ(t.issuedAt),
    project: { domain, id: t.projectId, name: w.demo.projectName },
    is_domain: false,
    roles: w.roles,
    ...(t.appCred ? { application_credential: { id: w.demo.appCredId, name: 'local-demo-appcred', restricted: true } } : {}),
    catalog: catalog(w),
  };
  return json(201, { token }, { 'X-Subject-Token': t.id, Vary: 'X-Auth-Token' });
}

export function handleIdentity(w: World, ctx: Ctx): Reply {
  if (ctx.rest === '/v3/auth/tokens' && ctx.method === 'POST') return issueToken(w, ctx);
  // The version document, which the openstack CLI (the benchmarks' yardstick) discovers first.
  if (ctx.rest === '/v3' && ctx.method === 'GET') {
    const self = `${w.base}/identity${ctx.iface === 'public' ? '' : `-${ctx.iface}`}/v3/`;
    return json(200, {
      version: {
        id: 'v3.14',
        status: 'stable',
        updated: '2020-04-07T00:00:00Z',
        links: [{ rel: 'self', href: self }],
        'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
      },
    });
  }
  return ksError(w, 404, 'The resource could not be found.');
}

/** The 401 a service sends for a missing, unknown or expired token (keystonemiddleware; Glance's is webob's). */
export function serviceUnauthorized(w: World, ctx: Ctx): Reply {
  const headers = { 'Www-Authenticate': `Keystone uri="${w.base}/identity"` };
  if (ctx.service === 'identity') return ksError(w, 401, UNAUTH);
  if (ctx.service === 'image') {
    return webobError(
      401,
      'This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.',
      ctx,
      headers,
    );
  }
  return json(401, { error: { code: 401, title: 'Unauthorized', message: UNAUTH } }, headers);
}
