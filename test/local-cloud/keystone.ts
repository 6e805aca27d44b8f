// Keystone v3: token issue (password / application_credential), validation, catalog, version
// documents, and the 401s the other services send for a missing/expired token.
// Shapes checked against the real Keystone 22 (Zed) of the openstack-loopback cloud.
import { randomBytes } from 'node:crypto';
import type { Ctx } from './context.ts';
import { header } from './context.ts';
import type { EndpointInterface } from './types.ts';
import type { TokenRec, World } from './world.ts';
import { hex32, isObject, isoMicroZ, json, opaqueToken, parseJson, pyJson, requestId, webobError } from './util.ts';
import type { Reply } from './util.ts';

const IFACES: EndpointInterface[] = ['public', 'internal', 'admin'];
const sfx = (i: EndpointInterface) => (i === 'public' ? '' : `-${i}`);

/** Catalog endpoint URLs (internal/admin use distinguishable prefixes such as /compute-internal/...). */
export function endpointUrl(w: World, type: 'identity' | 'compute' | 'image' | 'volumev3', region: string, iface: EndpointInterface): string {
  const pid = w.demo.projectId;
  switch (type) {
    case 'identity':
      return `${w.base}/identity${sfx(iface)}/v3`;
    case 'compute':
      return `${w.base}/compute${sfx(iface)}/${region}/v2.1${w.computeEndpointStyle === 'project' ? `/${pid}` : ''}`;
    case 'image':
      return `${w.base}/glance${sfx(iface)}/${region}${w.imageEndpointStyle === 'versioned' ? '/v2' : ''}`;
    case 'volumev3':
      return `${w.base}/volume${sfx(iface)}/${region}/v3/${pid}`;
  }
}

function stableId(w: World, key: string): string {
  let id = w.catalogIds.get(key);
  if (!id) {
    id = hex32();
    w.catalogIds.set(key, id);
  }
  return id;
}

export function catalog(w: World): unknown[] {
  const regions = [...w.regions.values()];
  const services: { type: 'identity' | 'compute' | 'image' | 'volumev3'; name: string; regions: string[] }[] = [
    { type: 'identity', name: 'keystone', regions: regions.map((r) => r.name) },
    { type: 'compute', name: 'nova', regions: regions.map((r) => r.name) },
    { type: 'image', name: 'glance', regions: regions.map((r) => r.name) },
    { type: 'volumev3', name: 'cinderv3', regions: regions.filter((r) => r.hasCinder).map((r) => r.name) },
  ];
  return services
    .filter((s) => s.regions.length > 0)
    .map((s) => ({
      endpoints: s.regions.flatMap((region) =>
        IFACES.map((iface) => ({
          id: stableId(w, `${s.type}:${region}:${iface}`),
          interface: iface,
          region_id: region,
          url: endpointUrl(w, s.type, region, iface),
          region,
        })),
      ),
      id: stableId(w, `service:${s.type}`),
      type: s.type,
      name: s.name,
    }));
}

const KS_HEADERS = { Vary: 'X-Auth-Token' };

/** Keystone's own error bodies are compact JSON (flask jsonify). */
function ksError(w: World, status: number, message: string, extra: Record<string, unknown> = {}): Reply {
  const title = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found' }[status] ?? 'Error';
  const headers: Record<string, string> = { 'Content-Type': 'application/json', ...KS_HEADERS, 'x-openstack-request-id': requestId() };
  if (status === 401) headers['WWW-Authenticate'] = `Keystone uri="${w.base}/identity/v3"`;
  return { status, headers, body: JSON.stringify({ error: { code: status, ...extra, message, title } }) };
}

const UNAUTH = 'The request you have made requires authentication.';
const BAD_SUFFIX = ' The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.';

function tokenBody(w: World, t: TokenRec): Record<string, unknown> {
  const domain = { id: w.domainId, name: 'Default' };
  const token: Record<string, unknown> = {
    methods: t.methods,
    user: { domain, id: t.userId, name: w.demo.username, password_expires_at: null },
    audit_ids: [t.auditId],
    expires_at: isoMicroZ(t.expiresAt),
    issued_at: isoMicroZ(t.issuedAt),
    project: { domain, id: t.projectId, name: w.demo.projectName },
    is_domain: false,
    roles: w.roles,
  };
  if (t.appCred) token.application_credential = { id: w.demo.appCredId, name: w.demo.appCredName, restricted: true };
  token.catalog = catalog(w);
  return { token };
}

function domainMatches(w: World, d: unknown): boolean | 'missing' {
  if (!isObject(d)) return 'missing';
  if (typeof d.id === 'string') return d.id === w.domainId;
  if (typeof d.name === 'string') return d.name === 'Default';
  return 'missing';
}

function issueToken(w: World, ctx: Ctx): Reply {
  const body = parseJson(ctx.body);
  if (!isObject(body)) return ksError(w, 400, `Expecting to find valid JSON in request body.${BAD_SUFFIX}`);
  const auth = body.auth;
  if (!isObject(auth)) return ksError(w, 400, "Invalid input for field 'auth': 'auth' is a required property");
  const identity = auth.identity;
  if (!isObject(identity)) return ksError(w, 400, "Invalid input for field 'identity': 'identity' is a required property");
  const methods = identity.methods;
  if (!Array.isArray(methods)) return ksError(w, 400, "Invalid input for field 'identity': 'methods' is a required property");
  const scope = auth.scope;
  let appCred = false;

  if (methods.includes('application_credential')) {
    const ac = identity.application_credential;
    if (!isObject(ac)) return ksError(w, 400, `Expecting to find application_credential in identity.${BAD_SUFFIX}`);
    if (scope !== undefined) {
      return ksError(w, 401, 'Error authenticating with application credential: Application credentials cannot request a scope.', { identity: {} });
    }
    if (typeof ac.id === 'string') {
      if (ac.id !== w.demo.appCredId) return ksError(w, 404, `Could not find Application Credential: ${ac.id}.`);
    } else if (typeof ac.name === 'string') {
      const user = ac.user;
      if (!isObject(user)) return ksError(w, 400, `Expecting to find user in application_credential.${BAD_SUFFIX}`);
      const userOk = typeof user.id === 'string' ? user.id === w.demo.userId : user.name === w.demo.username && domainMatches(w, user.domain) === true;
      if (!userOk || ac.name !== w.demo.appCredName) return ksError(w, 404, `Could not find Application Credential: ${ac.name}.`);
    } else {
      return ksError(w, 400, `Expecting to find id or name in application_credential.${BAD_SUFFIX}`);
    }
    if (ac.secret !== w.demo.appCredSecret) return ksError(w, 401, UNAUTH);
    appCred = true;
  } else if (methods.includes('password')) {
    const pw = identity.password;
    if (!isObject(pw) || !isObject(pw.user)) return ksError(w, 400, `Expecting to find user in password.${BAD_SUFFIX}`);
    const user = pw.user;
    if (typeof user.id === 'string') {
      if (user.id !== w.demo.userId) return ksError(w, 401, UNAUTH);
    } else if (typeof user.name === 'string') {
      const dm = domainMatches(w, user.domain);
      if (dm === 'missing') return ksError(w, 400, `Expecting to find domain in user.${BAD_SUFFIX}`);
      if (!dm || user.name !== w.demo.username) return ksError(w, 401, UNAUTH);
    } else {
      return ksError(w, 400, `Expecting to find id or name in user.${BAD_SUFFIX}`);
    }
    if (user.password !== w.demo.password) return ksError(w, 401, UNAUTH);
  } else {
    return ksError(w, 401, UNAUTH);
  }

  if (!appCred && scope !== undefined) {
    if (!isObject(scope)) return ksError(w, 400, `Expecting to find scope in auth.${BAD_SUFFIX}`);
    const project = scope.project;
    if (!isObject(project)) return ksError(w, 401, UNAUTH); // domain / system scope: demo has no such role
    if (typeof project.id === 'string') {
      if (project.id !== w.demo.projectId) return ksError(w, 401, UNAUTH);
    } else if (typeof project.name === 'string') {
      const dm = domainMatches(w, project.domain);
      if (dm === 'missing') return ksError(w, 400, `Expecting to find domain in project.${BAD_SUFFIX}`);
      if (!dm || project.name !== w.demo.projectName) return ksError(w, 401, UNAUTH);
    } else {
      return ksError(w, 400, `Expecting to find id or name in project.${BAD_SUFFIX}`);
    }
  }
  // Unscoped requests get the user's default project (demo), like the real demo user.
  const now = w.now();
  const t: TokenRec = {
    id: opaqueToken(),
    projectId: w.demo.projectId,
    userId: w.demo.userId,
    methods: appCred ? ['application_credential'] : ['password'],
    issuedAt: now,
    expiresAt: now + w.tokenTtlMs,
    revoked: false,
    auditId: randomBytes(16).toString('base64url').slice(0, 22),
    appCred,
  };
  w.tokens.set(t.id, t);
  return {
    status: 201,
    headers: { 'Content-Type': 'application/json', 'X-Subject-Token': t.id, ...KS_HEADERS, 'x-openstack-request-id': requestId() },
    body: pyJson(tokenBody(w, t)),
  };
}

function versionDoc(w: World, ctx: Ctx) {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${w.base}${ctx.prefix}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

export function handleIdentity(w: World, ctx: Ctx): Reply {
  const rest = ctx.rest;
  const rid = { 'x-openstack-request-id': requestId(), ...KS_HEADERS };
  if (rest === '' || rest === '/') {
    return json(300, { versions: { values: [versionDoc(w, ctx)] } }, { ...rid, Location: `${w.base}${ctx.prefix}/v3/` });
  }
  if ((rest === '/v3' || rest === '/v3/') && ctx.method === 'GET') return json(200, { version: versionDoc(w, ctx) }, rid);
  if (rest === '/v3/auth/tokens') {
    if (ctx.method === 'POST') return issueToken(w, ctx);
    const caller = w.validToken(header(ctx, 'x-auth-token'));
    if (!caller) return ksError(w, 401, UNAUTH);
    const subjectId = header(ctx, 'x-subject-token');
    const subject = w.validToken(subjectId);
    if (ctx.method === 'GET' || ctx.method === 'HEAD') {
      if (!subject) return ksError(w, 404, `Could not find token: ${subjectId ?? ''}.`);
      return { status: 200, headers: { 'Content-Type': 'application/json', 'X-Subject-Token': subject.id, ...rid }, body: pyJson(tokenBody(w, subject)) };
    }
    if (ctx.method === 'DELETE') {
      if (!subject) return ksError(w, 404, `Could not find token: ${subjectId ?? ''}.`);
      subject.revoked = true;
      return { status: 204, headers: rid, body: '' };
    }
  }
  if (rest === '/v3/auth/catalog' && ctx.method === 'GET') {
    if (!w.validToken(header(ctx, 'x-auth-token'))) return ksError(w, 401, UNAUTH);
    return json(200, { catalog: catalog(w), links: { self: `${w.base}${ctx.prefix}/v3/auth/catalog`, previous: null, next: null } }, rid);
  }
  return ksError(w, 404, 'The resource could not be found.');
}

/** The 401 each service sends for a missing, unknown or expired token (keystonemiddleware). */
export function serviceUnauthorized(w: World, ctx: Ctx): Reply {
  const wwwAuth = `Keystone uri="${w.base}/identity"`;
  switch (ctx.service) {
    case 'identity':
      return ksError(w, 401, UNAUTH);
    case 'image':
      return webobError(
        401,
        'This server could not verify that you are authorized to access the document you requested. Either you supplied the wrong credentials (e.g., bad password), or your browser does not understand how to supply the credentials required.',
        ctx.headers,
        { extraHeaders: { 'Www-Authenticate': wwwAuth, 'X-Openstack-Request-Id': requestId() } },
      );
    default: {
      const rid = requestId();
      return {
        status: 401,
        headers: { 'Content-Type': 'application/json', 'Www-Authenticate': wwwAuth, 'X-Openstack-Request-Id': rid, ...(ctx.service === 'compute' ? { 'X-Compute-Request-Id': rid } : {}) },
        body: pyJson({ error: { code: 401, title: 'Unauthorized', message: UNAUTH } }),
      };
    }
  }
}

/** The caller's token, or null (then answer serviceUnauthorized). */
export function authenticate(w: World, ctx: Ctx): TokenRec | null {
  return w.validToken(header(ctx, 'x-auth-token'));
}
