// An OIDC issuer and Keystone's federation URL, as nock interceptors, for the login tests.
import nock from 'nock';

import type { ClientCredentials } from '../../src/openstack/federation.ts';
import { AUTH_ORIGIN } from '../support/nock.ts';

export const ISSUER = 'https://iam.ovh.example';
export const CLIENT_ID = 'sa-0123456789';
export const CLIENT_SECRET = 'client-secret-that-must-stay-secret';
export const ACCESS_TOKEN = 'eyJ-access-token-that-must-stay-secret';
export const UNSCOPED = 'gAAAAAB-unscoped-federated-token';
export const GIVEN_TOKEN = 'gAAAAAB-given-token-that-must-stay-secret';
export const FEDERATION_PATH = '/v3/OS-FEDERATION/identity_providers/ovhcloud-emea/protocols/openid/auth';

export const CLIENT: ClientCredentials = {
  kind: 'oidc-client-credentials',
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  discoveryEndpoint: `${ISSUER}/.well-known/openid-configuration`,
  scope: 'openid',
  tokenType: 'access_token',
};
/** The issuer: its discovery document and a token endpoint that checks the client's basic auth. */
export function mockIssuer(options: { times?: number; accessToken?: string } = {}) {
  const basic = `Basic ${Buffer.from(`${CLIENT_ID}:${CLIENT_SECRET}`).toString('base64')}`;
  return nock(ISSUER)
    .get('/.well-known/openid-configuration')
    .times(options.times ?? 1)
    .reply(200, { issuer: ISSUER, token_endpoint: `${ISSUER}/oauth2/token` })
    .post('/oauth2/token', (body: Record<string, string>) => body.grant_type === 'client_credentials' && body.scope === 'openid')
    .matchHeader('authorization', basic)
    .times(options.times ?? 1)
    .reply(200, { access_token: options.accessToken ?? ACCESS_TOKEN, token_type: 'Bearer', expires_in: 3600 });
}

/** Keystone's federation URL accepting `bearer` with an unscoped token. */
export const mockFederation = (bearer = ACCESS_TOKEN, times = 1) =>
  nock(AUTH_ORIGIN)
    .post(FEDERATION_PATH)
    .matchHeader('authorization', `Bearer ${bearer}`)
    .times(times)
    .reply(201, { token: { expires_at: new Date(Date.now() + 3_600_000).toISOString(), methods: ['mapped'] } }, { 'X-Subject-Token': UNSCOPED });
