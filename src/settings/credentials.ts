import * as core from '@actions/core';
import { Input } from '../lib/constants.ts';
import { log, t } from '../lib/log.ts';
import type { ClientCredentials, ExternalBearer } from '../openstack/federation.ts';
import type { Credentials, ProjectScope } from '../openstack/identity.ts';
import { isLoopback, redactUrl, userinfoSecrets, withoutUserinfo } from './urls.ts';

/** An input, else the first of these OS_* variables that is set (else the cloud of clouds.yaml). */
export interface Read {
  (name: string, ...envNames: string[]): string | undefined;
  /** Where that value comes from (the input, the OS_* variable, the key of clouds.yaml), for a problem about it. */
  from(name: string, ...envNames: string[]): string;
}

/** A URL as read, its credentials masked before anything can print it; as it may be shown. */
function masked(raw: string): string {
  for (const secret of userinfoSecrets(raw)) core.setSecret(secret);
  return redactUrl(raw);
}

/** Warnings about a URL to be used: the credentials in it (`removed` says why they are not used), plain http to another machine (`exposed` then travel unencrypted). */
function warnUrl(from: string, raw: string, removed: string, exposed: string): void {
  if (redactUrl(raw) !== raw) log.warning(t`${from}: the user name and password in the URL are not used ${removed}`);
  const url = new URL(withoutUserinfo(raw));
  if (url.protocol === 'http:' && !isLoopback(url)) log.warning(t`${from} is http://${url.host}: ${exposed} travel unencrypted; use https`);
}

/** The credentials of the inputs (or OS_*), masked as soon as they are read; each problem goes to `problems`. */
export function readCredentials(text: Read, problems: string[]): Credentials | undefined {
  const rawAuthUrl = text(Input.AuthUrl, 'OS_AUTH_URL');
  const from = text.from(Input.AuthUrl, 'OS_AUTH_URL');
  // Credentials in the URL are masked before anything can print it, and never sent: Keystone v3 takes them in the body.
  const shown = rawAuthUrl && masked(rawAuthUrl);
  let authUrl: string | undefined;
  if (!rawAuthUrl) {
    problems.push(`${Input.AuthUrl}: required (or OS_AUTH_URL), e.g. https://auth.cloud.ovh.net/v3`);
  } else if (!/^https?:\/\/[^/\s]+/i.test(rawAuthUrl) || !URL.canParse(rawAuthUrl)) {
    problems.push(`${from}: "${shown}" is not an http(s) URL; e.g. https://auth.cloud.ovh.net/v3`);
  } else if (/\/v2(\.0)?\/?$/.test(rawAuthUrl)) {
    problems.push(`${from}: "${shown}" is Keystone v2, which is gone; use the /v3 URL`);
  } else {
    const trimmed = withoutUserinfo(rawAuthUrl).replace(/\/+$/, '');
    authUrl = /\/v3$/.test(trimmed) ? trimmed : `${trimmed}/v3`;
    warnUrl(
      from,
      rawAuthUrl,
      '(Keystone v3 takes them in the request body) and were removed; give them as the username and password inputs',
      'the password or secret, and every token,',
    );
  }

  const read = (name: string) => text(name, ...(ENV[name] ?? []));
  const secrets = [Input.ApplicationCredentialSecret, Input.Password, Input.Token, Input.ClientSecret].map(read);
  // Masked before anything else can print them.
  for (const value of secrets) if (value) core.setSecret(value);
  const [secret, password, token, clientSecret] = secrets;

  const credentialId = text(Input.ApplicationCredentialId, 'OS_APPLICATION_CREDENTIAL_ID');
  const username = text(Input.Username, 'OS_USERNAME');
  const authType = readAuthType(text, problems, { application: Boolean(credentialId || secret), token: Boolean(token && !username && !password) });
  const projectDomainId = text(Input.ProjectDomainId, 'OS_PROJECT_DOMAIN_ID');
  const project: ProjectScope = {
    projectId: text(Input.ProjectId, 'OS_PROJECT_ID', 'OS_TENANT_ID'),
    projectName: text(Input.ProjectName, 'OS_PROJECT_NAME', 'OS_TENANT_NAME'),
    projectDomainName: text(Input.ProjectDomainName, 'OS_PROJECT_DOMAIN_NAME') ?? 'Default',
    ...(projectDomainId ? { projectDomainId } : {}),
  };
  const requireProject = (what: string) => {
    if (project.projectId || project.projectName) return true;
    problems.push(`${Input.ProjectId} or ${Input.ProjectName}: required for ${what} (or OS_PROJECT_ID / OS_TENANT_ID, OS_PROJECT_NAME / OS_TENANT_NAME)`);
    return false;
  };
  const required = (name: string, value: string | undefined, what: string) => {
    if (!value) problems.push(`${name}: required for ${what} (or ${ENV[name]?.[0]})`);
    return value;
  };

  switch (authType) {
    case undefined:
      return undefined;
    case 'application-credential': {
      if (!credentialId)
        problems.push(`${Input.ApplicationCredentialId}: required with ${Input.ApplicationCredentialSecret} (or OS_APPLICATION_CREDENTIAL_ID)`);
      if (!secret) problems.push(`${Input.ApplicationCredentialSecret}: required with ${Input.ApplicationCredentialId} (or OS_APPLICATION_CREDENTIAL_SECRET)`);
      return authUrl && credentialId && secret ? { method: 'application-credential', authUrl, id: credentialId, secret } : undefined;
    }
    case 'password': {
      if (!username)
        problems.push(
          `${Input.Username}: required for password authentication (or OS_USERNAME); or give ${Input.ApplicationCredentialId} and ${Input.ApplicationCredentialSecret}`,
        );
      if (!password) problems.push(`${Input.Password}: required for password authentication (or OS_PASSWORD), from a secret`);
      const scoped = requireProject('password authentication');
      if (!authUrl || !username || !password || !scoped) return undefined;
      const userDomainId = text(Input.UserDomainId, 'OS_USER_DOMAIN_ID');
      return {
        method: 'password',
        authUrl,
        username,
        password,
        userDomainName: text(Input.UserDomainName, 'OS_USER_DOMAIN_NAME') ?? 'Default',
        ...(userDomainId ? { userDomainId } : {}),
        ...project,
      };
    }
    case 'token': {
      const given = required(Input.Token, token, 'a token login');
      const scoped = requireProject('a token login');
      return authUrl && given && scoped ? { method: 'token', authUrl, token: given, ...project } : undefined;
    }
    case 'oidc-client-credentials':
    case 'github-oidc': {
      const identityProvider = required(Input.IdentityProvider, read(Input.IdentityProvider), authType);
      const protocol = text(Input.Protocol, 'OS_PROTOCOL') ?? 'openid';
      const bearer = authType === 'github-oidc' ? githubBearer(text, problems, authUrl) : clientCredentials(text, problems, clientSecret);
      const scoped = requireProject(authType);
      return authUrl && identityProvider && bearer && scoped ? { method: 'federated', authUrl, identityProvider, protocol, bearer, ...project } : undefined;
    }
  }
}

/** The OS_* variable of each input `read` reads. */
const ENV: Partial<Record<string, string[]>> = {
  [Input.ApplicationCredentialSecret]: ['OS_APPLICATION_CREDENTIAL_SECRET'],
  [Input.Password]: ['OS_PASSWORD'],
  [Input.Token]: ['OS_TOKEN'],
  [Input.ClientSecret]: ['OS_CLIENT_SECRET'],
  [Input.IdentityProvider]: ['OS_IDENTITY_PROVIDER'],
};

type AuthType = 'password' | 'application-credential' | 'token' | 'oidc-client-credentials' | 'github-oidc';

/** The action's names and the openstack CLI's (OS_AUTH_TYPE) for each way to log in. */
const AUTH_TYPES: Record<string, AuthType> = {
  password: 'password',
  v3password: 'password',
  'application-credential': 'application-credential',
  v3applicationcredential: 'application-credential',
  token: 'token',
  v3token: 'token',
  'oidc-client-credentials': 'oidc-client-credentials',
  v3oidcclientcredentials: 'oidc-client-credentials',
  'github-oidc': 'github-oidc',
};

/** The auth type asked for; unset, what the credentials given imply (as before there was a choice). */
function readAuthType(text: Read, problems: string[], given: { application: boolean; token: boolean }): AuthType | undefined {
  const raw = text(Input.AuthType, 'OS_AUTH_TYPE');
  if (!raw) return given.application ? 'application-credential' : given.token ? 'token' : 'password';
  const type = AUTH_TYPES[raw.toLowerCase()];
  if (!type)
    problems.push(`${text.from(Input.AuthType, 'OS_AUTH_TYPE')}: "${raw}" is not a login this action knows; use ${Object.keys(AUTH_TYPES).join(', ')}`);
  return type;
}

function clientCredentials(text: Read, problems: string[], clientSecret: string | undefined): ClientCredentials | undefined {
  const what = 'oidc-client-credentials';
  const clientId = text(Input.ClientId, 'OS_CLIENT_ID');
  if (!clientId) problems.push(`${Input.ClientId}: required for ${what} (or OS_CLIENT_ID), the ID of the service account`);
  if (!clientSecret) problems.push(`${Input.ClientSecret}: required for ${what} (or OS_CLIENT_SECRET), from a secret`);
  const discoveryEndpoint = issuerUrl(text, problems, Input.DiscoveryEndpoint, 'OS_DISCOVERY_ENDPOINT');
  const tokenEndpoint = issuerUrl(text, problems, Input.AccessTokenEndpoint, 'OS_ACCESS_TOKEN_ENDPOINT');
  if (!discoveryEndpoint && !tokenEndpoint) {
    problems.push(
      `${Input.DiscoveryEndpoint}: required for ${what} (or OS_DISCOVERY_ENDPOINT), the issuer's .well-known/openid-configuration URL; or give ${Input.AccessTokenEndpoint}`,
    );
  }
  const tokenType = (text(Input.AccessTokenType, 'OS_ACCESS_TOKEN_TYPE') ?? 'access_token').toLowerCase();
  if (tokenType !== 'access_token' && tokenType !== 'id_token') {
    problems.push(`${text.from(Input.AccessTokenType, 'OS_ACCESS_TOKEN_TYPE')}: "${tokenType}" is not a token type; use access_token or id_token`);
  }
  if (!clientId || !clientSecret || (!discoveryEndpoint && !tokenEndpoint)) return undefined;
  return {
    kind: 'oidc-client-credentials',
    clientId,
    clientSecret,
    ...(tokenEndpoint ? { tokenEndpoint } : { discoveryEndpoint }),
    scope: text(Input.OpenidScope, 'OS_OPENID_SCOPE') ?? 'openid',
    tokenType: tokenType === 'id_token' ? 'id_token' : 'access_token',
  };
}

/** An endpoint of the OIDC issuer, without the credentials it may hold (masked at once: the client authenticates with its ID and secret). */
function issuerUrl(text: Read, problems: string[], name: string, envName: string): string | undefined {
  const raw = text(name, envName);
  if (!raw) return undefined;
  const from = text.from(name, envName);
  const shown = masked(raw);
  if (!/^https?:\/\//i.test(raw) || !URL.canParse(raw)) problems.push(`${from}: "${shown}" is not an http(s) URL`);
  else warnUrl(from, raw, `(the client authenticates with ${Input.ClientId} and ${Input.ClientSecret}) and were removed`, 'the client secret and every token');
  return withoutUserinfo(raw);
}

/** The permissions that let a job ask GitHub for an ID token: YAML on one line, as a problem is one line. */
const ID_TOKEN_PERMISSION = 'permissions: { id-token: write, contents: read }';

/** GitHub's OIDC token of this job, asked for at each login (the runner gives one only with id-token: write). */
function githubBearer(text: Read, problems: string[], authUrl: string | undefined): ExternalBearer | undefined {
  if (!process.env.ACTIONS_ID_TOKEN_REQUEST_URL) {
    problems.push(
      `${Input.AuthType}: github-oidc needs an ID token from GitHub, and this job may not ask for one; add to the job (or the workflow): ${ID_TOKEN_PERMISSION}`,
    );
    return undefined;
  }
  // Default: the cloud's own Keystone, so that a token meant for one cloud is refused by any other.
  const audience = text(Input.OidcAudience) ?? (authUrl ? new URL(authUrl).origin : undefined);
  if (!audience) return undefined;
  return { kind: 'external', subject: `GitHub's ID token of this job (audience ${audience})`, get: () => core.getIDToken(audience) };
}
