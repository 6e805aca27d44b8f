import got, { type Got, type Hooks, type OptionsInit } from 'got';
import pThrottle from 'p-throttle';
import { ApiError, apiMessage, ConflictError, CrossHostError } from './errors.ts';

export interface Logger {
  debug(message: string): void;
}

/** How the certificate of every host is checked. */
export interface TlsOptions {
  /** PEM certificates of the CAs trusted instead of Node's default ones (as the openstack CLI's cacert replaces requests' bundle). */
  ca?: string;
  /** Check no certificate at all. */
  insecure: boolean;
}

export interface HttpOptions {
  /** Per-request timeout; got sets none by default. */
  requestTimeoutMs?: number;
  /** Attempts after the first for requests that are safe to repeat. */
  retryLimit?: number;
  /** Ceiling on requests per second across all services (0: none). OVH allows 20/s per project and service. */
  rateLimit?: number;
  log?: Logger;
  userAgent?: string;
  /** Called for every request sent, retries included. */
  onRequest?: (method: string, url: URL) => void;
  /** Removes every secret (password, credential secret, tokens) from text from the cloud, before anything reshapes it. */
  redact?: (text: string) => string;
  tls?: TlsOptions;
}

/** Every string in a decoded body, redacted where it stands: an echoed secret is gone before any message is cut out of it. */
function redactBody(body: unknown, redact: (text: string) => string): unknown {
  if (typeof body === 'string') return redact(body);
  if (Array.isArray(body)) return body.map((item) => redactBody(item, redact));
  if (body && typeof body === 'object') return Object.fromEntries(Object.entries(body).map(([key, value]) => [key, redactBody(value, redact)]));
  return body;
}

/** Tokens and passwords go only to the host they were meant for: a redirect or a link elsewhere is refused, never followed. */
export function sameOrigin(from: string | URL, to: string | URL, what: string): void {
  const expected = new URL(from).origin;
  const target = new URL(to).origin;
  if (target !== expected)
    throw new CrossHostError(`${what} points to ${target}, not to ${expected}: refused, so that no token or password goes to another host`);
}

/** Methods got may repeat on its own: repeating them cannot create anything twice. */
export const IDEMPOTENT_METHODS = ['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'] as const;

/**
 * The one HTTP client every OpenStack call goes through: JSON, timeouts, retries with backoff
 * and Retry-After (got's), an optional rate ceiling, request counting and debug logs that
 * never include headers or bodies (tokens travel in headers).
 */
export function createHttp(options: HttpOptions = {}): Got {
  const { log, onRequest } = options;
  const redact = options.redact ?? ((text: string) => text);
  const throttle = options.rateLimit
    ? // The window is a little longer than a second: requests leave the client a few ms apart from where the
      // throttle let them go, and a server counting arrivals in any 1-s window must still see no more than the limit.
      pThrottle({ limit: Math.max(1, Math.floor(options.rateLimit)), interval: 1050, strict: true })(() => undefined)
    : undefined;

  const hooks: Partial<Hooks> = {
    beforeRequest: [
      async (options) => {
        if (throttle) await throttle();
        const url = options.url as URL;
        onRequest?.(options.method, url);
        options.context.startedAt = Date.now();
        log?.debug(`→ ${options.method} ${url.origin}${url.pathname}${url.search}`);
      },
    ],
    afterResponse: [
      (response) => {
        const started = response.request.options.context.startedAt as number | undefined;
        log?.debug(`← ${response.statusCode} ${response.request.options.method} ${response.url} (${started ? Date.now() - started : '?'} ms)`);
        return response;
      },
    ],
    beforeRedirect: [
      (next, response) => {
        sameOrigin(response.url, next.url as URL, `${response.statusCode} redirect from ${new URL(response.url).origin}`);
      },
    ],
    beforeRetry: [
      (error, retryCount) => {
        log?.debug(`retry #${retryCount} of ${error.options.method} ${String(error.options.url)}: ${error.code ?? redact(error.message)}`);
      },
    ],
    beforeError: [
      (error) => {
        // A refused redirect is the error itself, not the 3xx it answered.
        if (error.cause instanceof CrossHostError) return error.cause as never;
        const response = error.response;
        if (!response) return error;
        // An answer with an error status becomes a typed error: callers test its status, never got's classes.
        const detail = apiMessage(redactBody(response.body, redact));
        const url = new URL(response.url);
        const message = `${error.options.method} ${url.origin}${url.pathname} answered ${response.statusCode}` + (detail ? `: ${detail}` : '');
        const Type = response.statusCode === 409 ? ConflictError : ApiError;
        return new Type(message, response.statusCode, (error.request?.retryCount ?? 0) > 0) as never;
      },
    ],
  };

  const defaults: OptionsInit = {
    headers: { accept: 'application/json', 'user-agent': options.userAgent ?? 'openstack-snapshot-action' },
    responseType: 'json',
    timeout: { connect: 15_000, request: options.requestTimeoutMs ?? 60_000 },
    retry: {
      limit: options.retryLimit ?? 5,
      methods: [...IDEMPOTENT_METHODS],
      statusCodes: [408, 429, 500, 502, 503, 504, 521, 522, 524],
      backoffLimit: 30_000,
      noise: 100,
      maxRetryAfter: 120_000,
    },
    hooks,
    // Keystone, every endpoint of the catalog and the OIDC issuer: all go through this client.
    https: { certificateAuthority: options.tls?.ca, rejectUnauthorized: !options.tls?.insecure },
  };
  return got.extend(defaults);
}

/**
 * Every item of a listing whose pages name the next one: got follows the links. `next` reads
 * the link of a page (each service puts it elsewhere); undefined on the last page.
 */
export function linkedPages<T, Body>(
  http: Got,
  url: string,
  items: (body: Body) => T[],
  next: (body: Body) => URL | undefined,
  signal?: AbortSignal,
): AsyncIterable<T> {
  return http.paginate<T, Body>(url, {
    signal,
    pagination: {
      transform: (response) => items(response.body),
      paginate: ({ response }) => {
        const link = next(response.body);
        if (link) sameOrigin(response.url, link, 'the next page link');
        return link ? { url: link, searchParams: undefined } : false;
      },
      backoff: 0,
      requestLimit: Number.POSITIVE_INFINITY,
      countLimit: Number.POSITIVE_INFINITY,
    },
  });
}
