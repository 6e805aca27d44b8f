import * as core from '@actions/core';
import { Input } from './constants.ts';
import { log, t } from './log.ts';
import type { Credentials } from './openstack/identity.ts';
import { isLoopback, redactUrl, userinfoSecrets, withoutUserinfo } from './urls.ts';

/** An input, else the first of these OS_* variables that is set. */
export type Read = (name: string, ...envNames: string[]) => string | undefined;

/** The credentials of the inputs (or OS_*), masked as soon as they are read; each problem goes to `problems`. */
export function readCredentials(text: Read, problems: string[]): Credentials | undefined {
  const rawAuthUrl = text(Input.AuthUrl, 'OS_AUTH_URL');
  // Credentials in the URL are masked before anything can print it, and never sent: Keystone v3 takes them in the body.
  for (const secret of rawAuthUrl ? userinfoSecrets(rawAuthUrl) : []) core.setSecret(secret);
  const shown = rawAuthUrl && redactUrl(rawAuthUrl);
  let authUrl: string | undefined;
  if (!rawAuthUrl) {
    problems.push(`${Input.AuthUrl}: required (or OS_AUTH_URL), e.g. https://auth.cloud.ovh.net/v3`);
  } else if (!/^https?:\/\/[^/\s]+/i.test(rawAuthUrl) || !URL.canParse(rawAuthUrl)) {
    problems.push(`${Input.AuthUrl}: "${shown}" is not an http(s) URL; e.g. https://auth.cloud.ovh.net/v3`);
  } else if (/\/v2(\.0)?\/?$/.test(rawAuthUrl)) {
    problems.push(`${Input.AuthUrl}: "${shown}" is Keystone v2, which is gone; use the /v3 URL`);
  } else {
    const trimmed = withoutUserinfo(rawAuthUrl).replace(/\/+$/, '');
    authUrl = /\/v3$/.test(trimmed) ? trimmed : `${trimmed}/v3`;
    if (shown !== rawAuthUrl) {
      log.warning(t`${Input.AuthUrl}: the user name and password in the URL are not used (Keystone v3 takes them in the request body) and were removed; give them as the username and password inputs`);
    }
    const url = new URL(authUrl);
    if (url.protocol === 'http:' && !isLoopback(url)) {
      log.warning(t`${Input.AuthUrl} is http://${url.host}: the password or secret, and every token, travel unencrypted; use https`);
    }
  }

  const secret = text(Input.ApplicationCredentialSecret, 'OS_APPLICATION_CREDENTIAL_SECRET');
  const password = text(Input.Password, 'OS_PASSWORD');
  // Masked before anything else can print them.
  for (const value of [secret, password]) if (value) core.setSecret(value);

  const credentialId = text(Input.ApplicationCredentialId, 'OS_APPLICATION_CREDENTIAL_ID');
  if (credentialId || secret) {
    if (!credentialId) problems.push(`${Input.ApplicationCredentialId}: required with ${Input.ApplicationCredentialSecret} (or OS_APPLICATION_CREDENTIAL_ID)`);
    if (!secret) problems.push(`${Input.ApplicationCredentialSecret}: required with ${Input.ApplicationCredentialId} (or OS_APPLICATION_CREDENTIAL_SECRET)`);
    return authUrl && credentialId && secret ? { method: 'application-credential', authUrl, id: credentialId, secret } : undefined;
  }

  const username = text(Input.Username, 'OS_USERNAME');
  const projectId = text(Input.ProjectId, 'OS_PROJECT_ID', 'OS_TENANT_ID');
  const projectName = text(Input.ProjectName, 'OS_PROJECT_NAME', 'OS_TENANT_NAME');
  if (!username) problems.push(`${Input.Username}: required for password authentication (or OS_USERNAME); or give ${Input.ApplicationCredentialId} and ${Input.ApplicationCredentialSecret}`);
  if (!password) problems.push(`${Input.Password}: required for password authentication (or OS_PASSWORD), from a secret`);
  if (!projectId && !projectName) problems.push(`${Input.ProjectId} or ${Input.ProjectName}: required for password authentication (or OS_PROJECT_ID / OS_TENANT_ID, OS_PROJECT_NAME / OS_TENANT_NAME)`);
  if (!authUrl || !username || !password || (!projectId && !projectName)) return undefined;
  return {
    method: 'password',
    authUrl,
    username,
    password,
    userDomainName: text(Input.UserDomainName, 'OS_USER_DOMAIN_NAME') ?? 'Default',
    projectId,
    projectName,
    projectDomainName: text(Input.ProjectDomainName, 'OS_PROJECT_DOMAIN_NAME') ?? 'Default',
  };
}
