import type { Got } from 'got';
import { IDEMPOTENT_METHODS } from './client.ts';
import { findEndpoint, type CatalogEntry, type Interface } from './catalog.ts';
import { AuthError, ProtocolError, statusOf } from './errors.ts';
import { clientCredentialsToken, federationUrl, type BearerSource } from './federation.ts';
import { LoginError } from './login-errors.ts';

/** The project a login is scoped to: by ID, or by name in a domain. */
export interface ProjectScope {
  projectId?: string;
  projectName?: string;
  projectDomainName: string;
  /** Wins over the name when given, as in keystoneauth. */
  projectDomainId?: string;
}

export type Credentials =
  | ({
      method: 'password';
      authUrl: string;
      username: string;
      password: string;
      userDomainName: string;
      /** Wins over the name when given. */
      userDomainId?: string;
    } & ProjectScope)
  | { method: 'application-credential'; authUrl: string; id: string; secret: string }
  /** A token issued elsewhere: rescoped to the project; it cannot be renewed. */
  | ({ method: 'token'; authUrl: string; token: string } & ProjectScope)
  /** Keystone federation: an OIDC bearer token for an unscoped token, then rescoped. Renewed by doing it all again. */
  | ({ method: 'federated'; authUrl: string; identityProvider: string; protocol: string; bearer: BearerSource } & ProjectScope);

/** Who a login speaks for, in messages. */
export function describeLogin(credentials: Credentials): string {
  switch (credentials.method) {
    case 'password':
      return `user ${credentials.username} (domain ${credentials.userDomainId ?? credentials.userDomainName})`;
    case 'application-credential':
      return `application credential ${credentials.id}`;
    case 'token':
      return 'a token';
    case 'federated': {
      const subject = credentials.bearer.kind === 'external' ? credentials.bearer.subject : `OIDC client ${credentials.bearer.clientId}`;
      return `${subject} via identity provider ${credentials.identityProvider} (protocol ${credentials.protocol})`;
    }
  }
}

/** The secrets a login holds (tokens it gets are added as they come). */
export function secretsOf(credentials: Credentials): string[] {
  switch (credentials.method) {
    case 'password':
      return [credentials.password];
    case 'application-credential':
      return [credentials.secret];
    case 'token':
      return [credentials.token];
    case 'federated':
      return credentials.bearer.kind === 'oidc-client-credentials' ? [credentials.bearer.clientSecret] : [];
  }
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

interface Issued {
  value: string;
  body: TokenBody['token'];
}

/** keystoneauth's rule: renew a token that expires within two minutes. */
const REFRESH_MARGIN_MS = 120_000;

const projectOf = (scope: ProjectScope) =>
  scope.projectId
    ? { id: scope.projectId }
    : { name: scope.projectName, domain: scope.projectDomainId ? { id: scope.projectDomainId } : { name: scope.projectDomainName } };

/** A token exchanged for one scoped to the project. */
const rescopeBody = (token: string, scope: ProjectScope) => ({
  auth: { identity: { methods: ['token'], token: { id: token } }, scope: { project: projectOf(scope) } },
});

function passwordBody(credentials: Extract<Credentials, { method: 'password' }>): unknown {
  const domain = credentials.userDomainId ? { id: credentials.userDomainId } : { name: credentials.userDomainName };
  return {
    auth: {
      identity: { methods: ['password'], password: { user: { name: credentials.username, domain, password: credentials.password } } },
      scope: { project: projectOf(credentials) },
    },
  };
}

// The credential carries its own scope: Keystone refuses an explicit one.
const applicationCredentialBody = (id: string, secret: string) => ({
  auth: { identity: { methods: ['application_credential'], application_credential: { id, secret } } },
});

/** Keystone v3: one token at a time, renewed before it expires or after a 401. */
export class Identity {
  readonly #http: Got;
  readonly #credentials: Credentials;
  /** Each token, and each credential derived for a login (the OIDC client's basic auth), before it is sent or used. */
  readonly #onToken: (token: string) => void;
  #current: Promise<Token> | undefined;
  #latest: string | undefined;
  /** Logins that succeeded: a token login refused after one has expired. */
  #logins = 0;

  constructor(http: Got, credentials: Credentials, onToken: (token: string) => void = () => undefined) {
    this.#http = http;
    this.#credentials = credentials;
    this.#onToken = onToken;
  }

  /** A valid token; concurrent callers share one authentication. */
  async token(): Promise<Token> {
    const pending = this.#current;
    if (pending) {
      // A login that failed fails its concurrent callers too: they do not try it again.
      const token = await pending;
      if (token.expiresAt.getTime() - Date.now() > token.refreshMarginMs) return token;
      // Expired or about to: whoever gets here first starts the next authentication.
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
    try {
      const { value, body } = await this.#login();
      this.#latest = value;
      this.#logins += 1;
      const expiresAt = new Date(body.expires_at);
      return {
        value,
        expiresAt,
        // A rescoped token expires with the one it came from: asking early would only give the same again.
        // A short-lived token (tests, strict clouds) is renewed at a quarter of its life instead.
        refreshMarginMs: this.#credentials.method === 'token' ? 0 : Math.min(REFRESH_MARGIN_MS, (expiresAt.getTime() - Date.now()) / 4),
        projectId: body.project?.id ?? '',
        catalog: body.catalog ?? [],
      };
    } catch (error) {
      this.#current = undefined;
      throw error;
    }
  }

  #login(): Promise<Issued> {
    const credentials = this.#credentials;
    const tokens = `${credentials.authUrl.replace(/\/+$/, '')}/auth/tokens`;
    const refused = (url: string, error: unknown) => new AuthError(describeLogin(credentials), url, { cause: error });
    switch (credentials.method) {
      case 'password':
        return this.#issue(tokens, { json: passwordBody(credentials) }, refused);
      case 'application-credential':
        return this.#issue(tokens, { json: applicationCredentialBody(credentials.id, credentials.secret) }, refused);
      case 'token': {
        const stage = this.#logins > 0 ? 'expired' : 'token';
        return this.#issue(
          tokens,
          { json: rescopeBody(credentials.token, credentials) },
          (url, error) =>
            new LoginError(stage, `Keystone refused the token at ${url}${stage === 'expired' ? ' when renewing: it has expired (or was revoked)' : ''}`, 401, {
              cause: error,
            }),
          // Keystone answers a token it cannot read (unknown, expired, revoked) with 404 "Could not recognize Fernet token".
          [401, 404],
        );
      }
      case 'federated':
        return this.#federated(credentials, tokens);
    }
  }

  /** Bearer token → unscoped token at the identity provider's URL → token scoped to the project. */
  async #federated(credentials: Extract<Credentials, { method: 'federated' }>, tokens: string): Promise<Issued> {
    const source = credentials.bearer;
    const bearer = source.kind === 'external' ? await source.get() : await clientCredentialsToken(this.#http, source, this.#onToken);
    this.#onToken(bearer);
    const who = describeLogin(credentials);
    const url = federationUrl(credentials.authUrl, credentials.identityProvider, credentials.protocol);
    const unscoped = await this.#issue(
      url,
      { headers: { authorization: `Bearer ${bearer}` } },
      (at, error) =>
        new LoginError('federation', `Keystone refused the bearer token of ${who} at ${at} (${statusOf(error)})`, statusOf(error), { cause: error }),
      // Keystone answers an unknown identity provider or protocol with 404, a rejected assertion with 401.
      [401, 403, 404],
    );
    const project = credentials.projectId ?? `${credentials.projectName} (domain ${credentials.projectDomainId ?? credentials.projectDomainName})`;
    return this.#issue(
      tokens,
      { json: rescopeBody(unscoped.value, credentials) },
      (at, error) => new LoginError('scope', `Keystone refused to scope the token of ${who} to project ${project} at ${at}`, 401, { cause: error }),
    );
  }

  /** A POST that Keystone answers with a token in X-Subject-Token; a refusal becomes `refused`'s error. */
  async #issue(
    url: string,
    options: { json?: unknown; headers?: Record<string, string> },
    refused: (url: string, error: unknown) => Error,
    refusals = [401],
  ): Promise<Issued> {
    try {
      const response = await this.#http.post<TokenBody>(url, {
        ...options,
        // Asking for a token creates nothing a retry could duplicate.
        retry: { methods: [...IDEMPOTENT_METHODS, 'POST'] },
      });
      const value = response.headers['x-subject-token'];
      if (typeof value !== 'string' || !value) throw new ProtocolError(`Keystone at ${url} answered without an X-Subject-Token header`);
      this.#onToken(value);
      return { value, body: response.body.token };
    } catch (error) {
      const status = statusOf(error);
      throw status !== undefined && refusals.includes(status) ? refused(url, error) : error;
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
