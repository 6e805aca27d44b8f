import * as core from '@actions/core';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type * as Yaml from 'yaml';
import { readBoundedText } from './bounded-file.ts';
import { Input } from '../lib/constants.ts';
import type { Read } from './credentials.ts';
import { log, t } from '../lib/log.ts';

/** The YAML parser, once loaded: only a run that reads a clouds.yaml needs it (in dist/, a chunk of its own). */
let yaml: typeof Yaml | undefined;

/** Load the YAML parser, which `loadCloud` needs (readSettings is synchronous): loadSettings does when a cloud is named. */
export async function loadYamlParser(): Promise<void> {
  yaml ??= await import('yaml');
}

function parser(): typeof Yaml {
  if (!yaml) throw new Error('clouds.yaml cannot be read before loadYamlParser() has loaded the YAML parser');
  return yaml;
}

/** The cloud of clouds.yaml that the `cloud` input or OS_CLOUD names, if any. */
export const cloudName = (read: Read): string | undefined => read(Input.Cloud, 'OS_CLOUD');

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
  project_domain_id: Input.ProjectDomainId,
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
const TOP_KEYS: Record<string, string> = {
  region_name: Input.Region,
  interface: Input.Interface,
  auth_type: Input.AuthType,
  cacert: Input.Cacert,
  verify: Input.Insecure,
};
/** `verify` says the opposite of `insecure`: its YAML 1.1 booleans (the CLI's PyYAML reads `no` as false) turned over; anything else is left for the input's check. */
const NOT_VERIFY: Record<string, string> = { true: 'false', yes: 'false', on: 'false', false: 'true', no: 'true', off: 'true' };
const SECRET_KEYS = new Set(['password', 'application_credential_secret', 'token', 'client_secret']);

/** A clouds.yaml far bigger than any needs is refused before it is read (60 MiB took 15 s and 2.2 GB). */
const MAX_BYTES = 1024 * 1024;

/**
 * Where clouds.yaml is looked for, the first that exists being read: OS_CLIENT_CONFIG_FILE, then
 * the openstack CLI's places but the current directory, which in a job is the repository's
 * content: its clouds.yaml is read only when OS_CLIENT_CONFIG_FILE names it.
 */
export function cloudsPlaces(env: NodeJS.ProcessEnv, cwd: string, home: string): string[] {
  const given = env.OS_CLIENT_CONFIG_FILE;
  return [...(given ? [resolve(cwd, given)] : []), join(home, '.config', 'openstack', 'clouds.yaml'), '/etc/openstack/clouds.yaml'];
}

/** The secure.yaml of `clouds`: the one OS_CLIENT_SECURE_FILE names, else the one beside it; never another folder's, whose secrets would go to this file's auth_url. */
function secureFile(env: NodeJS.ProcessEnv, cwd: string, clouds: string): string | undefined {
  const given = env.OS_CLIENT_SECURE_FILE;
  return [...(given ? [resolve(cwd, given)] : []), join(dirname(clouds), 'secure.yaml')].find((path) => existsSync(path));
}

type Tree = Record<string, unknown>;
const isTree = (value: unknown): value is Tree => value !== null && typeof value === 'object' && !Array.isArray(value);

/** `over` laid on `under`, section by section (secure.yaml holds only the secret keys). */
function merge(under: Tree, over: Tree): Tree {
  const result = { ...under };
  for (const [key, value] of Object.entries(over)) result[key] = isTree(value) && isTree(result[key]) ? merge(result[key], value) : value;
  return result;
}

/** The parser's faults in words: its own messages may quote the file, and the file holds secrets. */
const YAML_FAULTS: Partial<Record<Yaml.ErrorCode, string>> = {
  BAD_SCALAR_START: 'a value starts with a character such as @ or ` (quote the value)',
  BLOCK_AS_IMPLICIT_KEY: 'a value holds ": " (quote the value)',
  BAD_INDENT: 'the indentation is wrong',
  MISSING_CHAR: 'a character is missing, such as a closing quote',
  DUPLICATE_KEY: 'a key is given twice',
  TAB_AS_INDENT: 'a tab indents a line (use spaces)',
};
/** The tag YAML gives any text: the one tag a secret may have. */
const TEXT_TAG = 'tag:yaml.org,2002:str';
const NOT_TEXT = new Set(['number', 'bigint', 'boolean']);

/**
 * The clouds of a clouds.yaml or secure.yaml, every value as the text written (`0123` is not 123);
 * a problem goes to `problems`, naming the file, line and column, never quoting it.
 */
function readClouds(path: string, problems: string[], { isNode, isPair, isScalar, LineCounter, parseDocument, visit }: typeof Yaml): Tree | undefined {
  const read = readBoundedText(path, MAX_BYTES);
  if ('refused' in read) {
    problems.push(
      `${Input.Cloud}: ${path} is ${read.refused === 'too big' ? 'over 1 MiB, more than any clouds.yaml or secure.yaml needs' : 'not a regular file'}: refused`,
    );
    return undefined;
  }
  const lines = new LineCounter();
  // Silent: the parser's warnings go to stderr, the line quoted; merge keys (<<) as the CLI reads them.
  const document = parseDocument(read.text, { lineCounter: lines, logLevel: 'silent', prettyErrors: false, merge: true });
  const [fault] = document.errors;
  if (fault) {
    const { line, col } = lines.linePos(fault.pos[0]);
    problems.push(
      `${Input.Cloud}: ${path}, line ${line}, column ${col}: not valid YAML: ${YAML_FAULTS[fault.code] ?? fault.code}; the line is not shown, as it may hold a secret`,
    );
    return undefined;
  }
  let refused = false;
  visit(document, {
    Scalar(_, node) {
      if (NOT_TEXT.has(typeof node.value) && node.source !== undefined) node.value = node.source;
    },
    Pair(_, { key, value }, ancestors) {
      if (!isScalar(key) || !SECRET_KEYS.has(String(key.value)) || !isNode(value) || !value.tag || value.tag === TEXT_TAG) return;
      // A tag would make a secret into something else (a vault, code): refused, never shown.
      const keys = [...ancestors.filter(isPair), { key }].map((p) => (isScalar(p.key) ? String(p.key.value) : '?'));
      problems.push(
        `${Input.Cloud}: ${path}, line ${lines.linePos(key.range?.[0] ?? 0).line}: ${keys.join('.')} has the tag ${value.tag.replace(/^tag:yaml\.org,2002:/, '!!')}: refused, a secret is read as the text written`,
      );
      refused = true;
    },
  });
  if (refused) return undefined;
  const tree: unknown = document.toJS();
  return isTree(tree) && isTree(tree.clouds) ? tree.clouds : {};
}

/** `readClouds`, a file that cannot be read at all being a problem too. */
function readFile(path: string, problems: string[], yaml: typeof Yaml): Tree | undefined {
  try {
    return readClouds(path, problems, yaml);
  } catch (error) {
    problems.push(`${Input.Cloud}: ${path} cannot be read: ${(error as Error).message}`);
    return undefined;
  }
}

/**
 * The named cloud of clouds.yaml (with the secure.yaml beside it, or OS_CLIENT_SECURE_FILE's),
 * as values of the inputs it stands for; its secrets are masked as soon as they are read. A
 * problem goes to `problems`.
 */
export function loadCloud(name: string, env: NodeJS.ProcessEnv, problems: string[], cwd = process.cwd(), home = homedir()): Map<string, string> {
  const values = new Map<string, string>();
  const places = cloudsPlaces(env, cwd, home);
  const file = places.find((path) => existsSync(path));
  if (!file) {
    const unread = existsSync(join(cwd, 'clouds.yaml')) ? ' (./clouds.yaml, in the workspace, is read only when OS_CLIENT_CONFIG_FILE names it)' : '';
    problems.push(`${Input.Cloud}: "${name}" was asked for (or OS_CLOUD), but there is no clouds.yaml in ${places.join(', ')}${unread}`);
    return values;
  }
  const yaml = parser();
  const files = [file, secureFile(env, cwd, file)].filter((path) => path !== undefined);
  const trees = files.map((path) => readFile(path, problems, yaml));
  if (trees.some((tree) => !tree)) return values;
  log.info(t`Cloud "${name}" read from ${files.join(' and ')}`);
  const clouds = trees.reduce<Tree>((under, over) => merge(under, over!), {});
  const cloud = clouds[name];
  if (!isTree(cloud)) {
    problems.push(`${Input.Cloud}: no cloud "${name}" in ${file}; it has: ${Object.keys(clouds).join(', ') || '(none)'}`);
    return values;
  }
  const sections: [Tree, Record<string, string>][] = [
    [cloud, TOP_KEYS],
    [isTree(cloud.auth) ? cloud.auth : {}, AUTH_KEYS],
  ];
  for (const [section, keys] of sections) {
    for (const [key, input] of Object.entries(keys)) {
      const value = section[key];
      if (value === undefined || value === null || value === '') continue;
      if (typeof value !== 'string') {
        problems.push(`${Input.Cloud}: ${key} of cloud "${name}" is a list or a mapping; give text`);
        continue;
      }
      if (SECRET_KEYS.has(key)) core.setSecret(value);
      values.set(input, key === 'verify' ? (NOT_VERIFY[value.toLowerCase()] ?? value) : value);
    }
  }
  return values;
}

/** The key of clouds.yaml each input stands for. */
const KEY_OF: Record<string, string> = Object.fromEntries(Object.entries({ ...TOP_KEYS, ...AUTH_KEYS }).map(([key, input]) => [input, key]));

/** `read` falling back to the cloud of `cloud` (or OS_CLOUD): inputs and OS_* win over the file, as in the openstack CLI. */
export function withCloudsYaml(read: Read, env: NodeJS.ProcessEnv, problems: string[]): Read {
  const name = cloudName(read);
  if (!name) return read;
  const cloud = loadCloud(name, env, problems);
  return Object.assign((input: string, ...envNames: string[]) => read(input, ...envNames) ?? cloud.get(input), {
    from: (input: string, ...envNames: string[]) =>
      read(input, ...envNames) === undefined && cloud.has(input) ? `${KEY_OF[input]} of cloud "${name}" in clouds.yaml` : read.from(input, ...envNames),
  });
}
