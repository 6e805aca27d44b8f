import * as core from '@actions/core';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { Input } from './constants.ts';
import type { Read } from './credentials.ts';

/** The input each key of a cloud's `auth` section stands for. */
const AUTH_KEYS: Record<string, string> = {
  auth_url: Input.AuthUrl,
  username: Input.Username,
  password: Input.Password,
  user_domain_name: Input.UserDomainName,
  user_domain_id: Input.UserDomainId,
  project_id: Input.ProjectId,
  project_name: Input.ProjectName,
  project_domain_name: Input.ProjectDomainName,
  application_credential_id: Input.ApplicationCredentialId,
  application_credential_secret: Input.ApplicationCredentialSecret,
  token: Input.Token,
  client_id: Input.ClientId,
  client_secret: Input.ClientSecret,
  identity_provider: Input.IdentityProvider,
  protocol: Input.Protocol,
  discovery_endpoint: Input.DiscoveryEndpoint,
  access_token_endpoint: Input.AccessTokenEndpoint,
  openid_scope: Input.OpenidScope,
  access_token_type: Input.AccessTokenType,
};
const TOP_KEYS: Record<string, string> = { region_name: Input.Region, interface: Input.Interface, auth_type: Input.AuthType };
const SECRET_KEYS = new Set(['password', 'application_credential_secret', 'token', 'client_secret']);

/** Where the openstack CLI looks, in its order: the first file that exists is read. */
export function configPlaces(env: NodeJS.ProcessEnv, cwd: string, home: string, base: 'clouds' | 'secure'): string[] {
  const given = env[base === 'clouds' ? 'OS_CLIENT_CONFIG_FILE' : 'OS_CLIENT_SECURE_FILE'];
  const dirs = [cwd, join(home, '.config', 'openstack'), '/etc/openstack'];
  return [...(given ? [given] : []), ...dirs.map((dir) => join(dir, `${base}.yaml`))];
}

type Tree = Record<string, unknown>;
const isTree = (value: unknown): value is Tree => value !== null && typeof value === 'object' && !Array.isArray(value);

/** `over` laid on `under`, section by section (secure.yaml holds only the secret keys). */
function merge(under: Tree, over: Tree): Tree {
  const result = { ...under };
  for (const [key, value] of Object.entries(over)) result[key] = isTree(value) && isTree(result[key]) ? merge(result[key], value) : value;
  return result;
}

function readClouds(path: string | undefined): Tree {
  if (!path) return {};
  const document: unknown = parse(readFileSync(path, 'utf8'));
  return isTree(document) && isTree(document.clouds) ? document.clouds : {};
}

/**
 * The named cloud of clouds.yaml (secure.yaml merged), as values of the inputs it stands for;
 * its secrets are masked as soon as they are read. A problem goes to `problems`.
 */
export function loadCloud(name: string, env: NodeJS.ProcessEnv, problems: string[], cwd = process.cwd(), home = homedir()): Map<string, string> {
  const values = new Map<string, string>();
  const places = configPlaces(env, cwd, home, 'clouds');
  const file = places.find((path) => existsSync(path));
  if (!file) {
    problems.push(`${Input.Cloud}: "${name}" was asked for (or OS_CLOUD), but there is no clouds.yaml in ${places.join(', ')}`);
    return values;
  }
  let clouds: Tree;
  try {
    clouds = merge(readClouds(file), readClouds(configPlaces(env, cwd, home, 'secure').find((path) => existsSync(path))));
  } catch (error) {
    problems.push(`${Input.Cloud}: ${file} (or secure.yaml) cannot be read: ${(error as Error).message}`);
    return values;
  }
  const cloud = clouds[name];
  if (!isTree(cloud)) {
    problems.push(`${Input.Cloud}: no cloud "${name}" in ${file}; it has: ${Object.keys(clouds).join(', ') || '(none)'}`);
    return values;
  }
  const sections: [Tree, Record<string, string>][] = [[cloud, TOP_KEYS], [isTree(cloud.auth) ? cloud.auth : {}, AUTH_KEYS]];
  for (const [section, keys] of sections) {
    for (const [key, input] of Object.entries(keys)) {
      const value = section[key];
      if (value === undefined || value === null || value === '') continue;
      if (SECRET_KEYS.has(key)) core.setSecret(String(value));
      values.set(input, String(value));
    }
  }
  return values;
}

/** The key of clouds.yaml each input stands for. */
const KEY_OF: Record<string, string> = Object.fromEntries(Object.entries({ ...TOP_KEYS, ...AUTH_KEYS }).map(([key, input]) => [input, key]));

/** `read` falling back to the cloud of `cloud` (or OS_CLOUD): inputs and OS_* win over the file, as in the openstack CLI. */
export function withCloudsYaml(read: Read, env: NodeJS.ProcessEnv, problems: string[]): Read {
  const name = read(Input.Cloud, 'OS_CLOUD');
  if (!name) return read;
  const cloud = loadCloud(name, env, problems);
  return Object.assign((input: string, ...envNames: string[]) => read(input, ...envNames) ?? cloud.get(input), {
    from: (input: string, ...envNames: string[]) =>
      read(input, ...envNames) === undefined && cloud.has(input) ? `${KEY_OF[input]} of cloud "${name}" in clouds.yaml` : read.from(input, ...envNames),
  });
}
