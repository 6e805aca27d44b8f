import type { Got } from 'got';
import { sameOrigin } from './client.ts';
import { ProtocolError, statusOf } from './errors.ts';
import { LoginError } from './login-errors.ts';

/** keystoneauth's v3oidcclientcredentials: an OAuth 2.0 client of the OIDC issuer. */
export interface ClientCredentials {
  kind: 'oidc-client-credentials';
  clientId: string;
  clientSecret: string;
  /** The issuer's .well-known/openid-configuration; or give the token endpoint itself. */
  discoveryEndpoint?: string;
  tokenEndpoint?: string;
  scope: string;
  /** Which token of the issuer's answer Keystone is given. */
  tokenType: 'access_token' | 'id_token';
}

/** A bearer token obtained outside this layer (e.g. a CI's own OIDC token), asked for anew at each login. */
export interface ExternalBearer {
  kind: 'external';
  /** Who the token speaks for, for messages. */
  subject: string;
  get: () => Promise<string>;
}

export type BearerSource = ClientCredentials | ExternalBearer;

/** The token endpoint: given, or read from the discovery document, on the issuer's own origin. */
async function tokenEndpoint(http: Got, source: ClientCredentials): Promise<string> {
  if (source.tokenEndpoint) return source.tokenEndpoint;
  const discovery = source.discoveryEndpoint!;
  const document = (await http.get<{ token_endpoint?: unknown }>(discovery)).body;
  if (typeof document.token_endpoint !== 'string') throw new ProtocolError(`the discovery document at ${discovery} has no token_endpoint`);
  // The client secret goes there: only to the issuer that published the document.
  sameOrigin(discovery, document.token_endpoint, `the token_endpoint of ${discovery}`);
  return document.token_endpoint;
}

/**
 * The client credentials grant, as keystoneauth sends it: HTTP basic auth, the scope in the form.
 * The basic credentials go to `onSecret` before they are sent: an issuer may echo the header.
 */
export async function clientCredentialsToken(http: Got, source: ClientCredentials, onSecret: (value: string) => void): Promise<string> {
  const url = await tokenEndpoint(http, source);
  const basic = Buffer.from(`${source.clientId}:${source.clientSecret}`).toString('base64');
  onSecret(basic);
  let body: Record<string, unknown>;
  try {
    const response = await http.post<Record<string, unknown>>(url, {
      form: { grant_type: 'client_credentials', scope: source.scope },
      headers: { authorization: `Basic ${basic}` },
      // The grant creates nothing a retry could duplicate.
      retry: { methods: ['POST'] },
    });
    body = response.body;
  } catch (error) {
    const status = statusOf(error);
    // OAuth 2.0 answers a bad client with 401 invalid_client (some issuers with 400).
    if (status === 400 || status === 401) {
      throw new LoginError('issuer', `the OIDC issuer refused client ${source.clientId} at ${url} (${status})`, status, { cause: error });
    }
    throw error;
  }
  const token = body[source.tokenType];
  if (typeof token !== 'string' || !token) throw new ProtocolError(`the OIDC issuer at ${url} answered without an ${source.tokenType}`);
  return token;
}

/** Keystone's federation endpoint for an identity provider and protocol. */
export const federationUrl = (authUrl: string, identityProvider: string, protocol: string) =>
  `${authUrl.replace(/\/+$/, '')}/OS-FEDERATION/identity_providers/${encodeURIComponent(identityProvider)}/protocols/${encodeURIComponent(protocol)}/auth`;
