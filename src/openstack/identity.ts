import type { Got } from 'got';
import { IDEMPOTENT_METHODS } from './client.ts';
import { AuthError, CatalogError, ProtocolError, statusOf } from './errors.ts';

export type Credentials =
  | {
      method: 'password';
      authUrl: string;
      username: string;
      password: string;
      userDomainName: string;
      projectId?: string;
      projectName?: string;
      projectDomainName: string;
    }
  | { method: 'application-credential'; authUrl: string; id: string; secret: string };

export type Interface = 'public' | 'internal' | 'admin';

interface CatalogEndpoint {
  interface: string;
  region?: string;
  region_id?: string;
  url: string;
}
interface CatalogEntry {
  type: string;
  endpoints: CatalogEndpoint[];
}

export interface Token {
  value: string;
  expiresAt: Date;
  refreshMarginMs: number;
  projectId: string;
  catalog: CatalogEntry[];
}

interface TokenBody {
  token: { expires_at: string; project?: { id: string }; catalog?: CatalogEntry[] };
}

/** keystoneauth's rule: renew a token that expires within two minutes. */
const REFRESH_MARGIN_MS = 120_000;

function authBody(credentials: Credentials): unknown {
  if (credentials.method === 'application-credential') {
    // The credential carries its own scope: Keystone refuses an explicit one.
    return {
      auth: {
        identity: { methods: ['application_credential'], application_credential: { id: credentials.id, secret: credentials.secret } },
      },
    };
  }
  const project = credentials.projectId
    ? { id: credentials.projectId }
    : { name: credentials.projectName, domain: { name: credentials.projectDomainName } };
  return {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: credentials.username, domain: { name: credentials.userDomainName }, password: credentials.password } },
      },
      scope: { project },
    },
  };
}

/** Keystone v3: one token at a time, renewed before it expires or after a 401. */
export class Identity {
  readonly #http: Got;
  readonly #credentials: Credentials;
  readonly #onToken: (token: string) => void;
  #current: Promise<Token> | undefined;
  #latest: string | undefined;

  constructor(http: Got, credentials: Credentials, onToken: (token: string) => void = () => undefined) {
    this.#http = http;
    this.#credentials = credentials;
    this.#onToken = onToken;
  }

  /** A valid token; concurrent callers share one authentication. */
  async token(): Promise<Token> {
    const pending = this.#current;
    if (pending) {
      const token = await pending.catch(() => undefined);
      if (token && token.expiresAt.getTime() - Date.now() > token.refreshMarginMs) return token;
      // Expired, about to, or failed: whoever gets here first starts the next authentication.
      if (this.#current === pending) this.#current = undefined;
    }
    this.#current ??= this.#authenticate();
    return this.#current;
  }

  /** Forget `rejected` (a service answered 401 to it), so the next call authenticates again. */
  invalidate(rejected: string): void {
    if (this.#latest === rejected) this.#current = undefined;
  }

  async #authenticate(): Promise<Token> {
    // The token on its way replaces every earlier one: a 401 to an earlier token, arriving while
    // this runs, must not start another authentication (concurrent requests share this one).
    this.#latest = undefined;
    const url = `${this.#credentials.authUrl.replace(/\/+$/, '')}/auth/tokens`;
    try {
      const response = await this.#http.post<TokenBody>(url, {
        json: authBody(this.#credentials),
        // Asking for a token creates nothing a retry could duplicate.
        retry: { methods: [...IDEMPOTENT_METHODS, 'POST'] },
      });
      const value = response.headers['x-subject-token'];
      if (typeof value !== 'string' || !value) throw new ProtocolError(`Keystone at ${url} answered without an X-Subject-Token header`);
      this.#onToken(value);
      this.#latest = value;
      const body = response.body.token;
      const expiresAt = new Date(body.expires_at);
      return {
        value,
        expiresAt,
        // A short-lived token (tests, strict clouds) is renewed at a quarter of its life instead.
        refreshMarginMs: Math.min(REFRESH_MARGIN_MS, (expiresAt.getTime() - Date.now()) / 4),
        projectId: body.project?.id ?? '',
        catalog: body.catalog ?? [],
      };
    } catch (error) {
      this.#current = undefined;
      if (statusOf(error) === 401) {
        const who =
          this.#credentials.method === 'application-credential'
            ? `application credential ${this.#credentials.id}`
            : `user ${this.#credentials.username} (domain ${this.#credentials.userDomainName})`;
        throw new AuthError(who, url, { cause: error });
      }
      throw error;
    }
  }

  /** The URL of a service for a region and interface, from the token's catalog. */
  async endpoint(types: readonly string[], region: string, iface: Interface): Promise<string> {
    return findEndpoint((await this.token()).catalog, types, region, iface);
  }

  /** A client that sends the token with every request and re-authenticates once on a 401. */
  authorized(http: Got): Got {
    return http.extend({
      hooks: {
        beforeRequest: [
          async (options) => {
            options.headers['x-auth-token'] = (await this.token()).value;
          },
        ],
        afterResponse: [
          async (response, retryWithMergedOptions) => {
            if (response.statusCode !== 401 || response.request.options.context.reauthenticated) return response;
            // A 401 is refused before the service acts, so sending again cannot do anything twice.
            this.invalidate(String(response.request.options.headers['x-auth-token']));
            return retryWithMergedOptions({ context: { reauthenticated: true } });
          },
        ],
      },
    });
  }
}

export function findEndpoint(catalog: CatalogEntry[], types: readonly string[], region: string, iface: Interface): string {
  const service = types.join(' or ');
  const services = catalog.filter((entry) => types.includes(entry.type));
  if (services.length === 0) throw new CatalogError('service', service, region, iface, []);
  const regionOf = (endpoint: CatalogEndpoint) => endpoint.region_id ?? endpoint.region ?? '';
  const endpoints = services.flatMap((entry) => entry.endpoints);
  // Region IDs are compared as given first, then case-insensitively (gra11 for GRA11).
  const exact = endpoints.filter((endpoint) => regionOf(endpoint) === region);
  const inRegion = exact.length ? exact : endpoints.filter((endpoint) => regionOf(endpoint).toLowerCase() === region.toLowerCase());
  if (inRegion.length === 0) {
    const regions = [...new Set(catalog.flatMap((entry) => entry.endpoints.map(regionOf)))].filter(Boolean).sort();
    throw new CatalogError('region', types[0]!, region, iface, regions);
  }
  const match = inRegion.find((endpoint) => endpoint.interface === iface);
  if (!match) throw new CatalogError('interface', types[0]!, region, iface, [...new Set(inRegion.map((endpoint) => endpoint.interface))]);
  return match.url.replace(/\/+$/, '');
}
