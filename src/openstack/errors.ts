import { RequestError } from 'got';

// Typed failures of the OpenStack layer: data for the caller, which chooses the words (they
// name the action's inputs, which this layer knows nothing of).

/** The message an OpenStack service put in an error body, whatever the service's shape. */
export function apiMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    const text = body
      .replace(/<[^>]*>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
    return text || undefined;
  }
  if (body === null || typeof body !== 'object') return undefined;
  const record = body as Record<string, unknown>;
  // Glance JSON: {message, code, title}; Keystone/OVH: {error: {message}}; Nova/Cinder: {badRequest: {message}}.
  if (typeof record.message === 'string')
    return record.message
      .replace(/<br \/>/g, ' ')
      .replace(/\s+/g, ' ')
      .trim();
  for (const value of Object.values(record)) {
    if (value && typeof value === 'object' && typeof (value as Record<string, unknown>).message === 'string') {
      return String((value as Record<string, unknown>).message).trim();
    }
  }
  return undefined;
}

export class OpenStackError extends Error {
  override name = 'OpenStackError';
}

/** A service answered with an error status. `message` says which request and what the body said (secrets removed). */
export class ApiError extends OpenStackError {
  override name = 'ApiError';
  readonly status: number;
  /** got retried the request before this answer: an earlier attempt may have acted. */
  readonly retried: boolean;
  constructor(message: string, status: number, retried: boolean) {
    super(message);
    this.status = status;
    this.retried = retried;
  }
}

/** 409: the resource is busy or in a state that refuses the request (Nova's task_state, Glance's "in use"). */
export class ConflictError extends ApiError {
  override name = 'ConflictError';
}

/** No resource of that kind has this name or ID (in this project). */
export class NotFoundError extends OpenStackError {
  override name = 'NotFoundError';
  readonly kind: string;
  readonly key: string;
  constructor(kind: string, key: string) {
    super(`no ${kind} named or with ID "${key}"`);
    this.kind = kind;
    this.key = key;
  }
}

/** Several resources answer to one name: the caller must be given an ID. */
export class AmbiguousError extends OpenStackError {
  override name = 'AmbiguousError';
  readonly kind: string;
  readonly key: string;
  readonly ids: readonly string[];
  constructor(kind: string, key: string, ids: readonly string[]) {
    super(`${ids.length} ${kind}s are named "${key}" (${ids.join(', ')})`);
    this.kind = kind;
    this.key = key;
    this.ids = ids;
  }
}

/** The token's catalog has no endpoint for this service, region or interface. */
export class CatalogError extends OpenStackError {
  override name = 'CatalogError';
  readonly problem: 'service' | 'region' | 'interface';
  readonly service: string;
  readonly region: string;
  readonly iface: string;
  /** What the catalog does have: the project's regions, or the region's interfaces. */
  readonly offered: readonly string[];
  constructor(problem: CatalogError['problem'], service: string, region: string, iface: string, offered: readonly string[]) {
    super(
      `the catalog has no ${problem === 'service' ? `${service} service` : problem === 'region' ? `${service} endpoint in region ${region}` : `${iface} endpoint of ${service} in ${region}`}`,
    );
    this.problem = problem;
    this.service = service;
    this.region = region;
    this.iface = iface;
    this.offered = offered;
  }
}

/** Keystone refused the credentials (401 to the token request). */
export class AuthError extends OpenStackError {
  override name = 'AuthError';
  constructor(who: string, url: string, options?: ErrorOptions) {
    super(`Keystone refused the credentials of ${who} at ${url}`, options);
  }
}

/** A redirect or a link to a host other than the endpoint's: never followed with credentials. */
export class CrossHostError extends OpenStackError {
  override name = 'CrossHostError';
}

/** A service answered success in a shape that cannot be used (no token header, no image ID). */
export class ProtocolError extends OpenStackError {
  override name = 'ProtocolError';
}

/** The HTTP status of a failed request, or undefined when no response came back. */
export function statusOf(error: unknown): number | undefined {
  return error instanceof ApiError ? error.status : undefined;
}

/** The network error code (ECONNRESET, ETIMEDOUT, …) of a request that got no response. */
export function codeOf(error: unknown): string | undefined {
  return error instanceof RequestError ? error.code : undefined;
}

/** Node's codes for a certificate that no trusted CA signed: a self-signed one, or a private CA's that is not trusted. */
const UNTRUSTED = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'CERT_UNTRUSTED',
]);

/** The origin whose certificate no trusted CA signed, when that is why the request failed. */
export function untrustedOrigin(error: unknown): string | undefined {
  return error instanceof RequestError && UNTRUSTED.has(error.code) && error.options.url ? new URL(error.options.url).origin : undefined;
}

/** The failure leaves no doubt that the service refused the request before acting on it (a 4xx, but a timeout's 408). */
export function refusedBeforeActing(error: unknown): boolean {
  const status = statusOf(error);
  return status !== undefined && status < 500 && status !== 408;
}
