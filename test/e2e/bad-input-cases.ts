// The BAD-INPUT TABLE as data (bad-inputs.test.ts runs it; secrets.test.ts reuses it). Each case
// is what a user could write in a workflow; the action must exit 1 with one ::error:: that names
// the input and what would be valid, and must not change anything in the cloud. Pure input
// errors are found before any request; the few that need the cloud (a region not in the catalog,
// an ambiguous server name) may authenticate and look, but never mutate.
import assert from 'node:assert/strict';
import type { LocalCloud } from '../local-cloud/cloud.ts';
import { assertFailure, mutating, passwordInputs, step, summaryText, unique, worldIds, type Step } from './harness.ts';

export interface BadInputCase {
  name: string;
  /** The step's inputs, from credentials + region + a server name that exists. */
  inputs: (base: Record<string, string>, cloud: LocalCloud) => Record<string, string>;
  /** Fragments the one ::error:: must contain (the input's name, what would be valid). */
  expect: (string | RegExp)[] | ((cloud: LocalCloud, ctx: Record<string, string>) => (string | RegExp)[]);
  /** Found only with the cloud's help: requests are allowed, mutating ones never. */
  needsCloud?: boolean;
  /** How many problems the "Invalid input(s)" list holds (pure input errors; default 1). */
  problems?: number;
  /** Seeds the cloud; what it returns is handed to `expect` as ctx. */
  arrange?: (cloud: LocalCloud) => Record<string, string>;
  /** The step's environment beyond the inputs (a proxy variable). */
  env?: Record<string, string>;
  /** A known action bug makes this case fail: it still runs, with the right assertions. */
  bug?: string;
}

const without = (base: Record<string, string>, ...keys: string[]) => Object.fromEntries(Object.entries(base).filter(([k]) => !keys.includes(k)));

/** A case whose inputs are the base's with these set, and the fragments its error must contain. */
const bad = (name: string, set: Record<string, string>, ...expect: string[]): BadInputCase => ({ name, inputs: (b) => ({ ...b, ...set }), expect });

/** The server every case names (it exists, so only the bad input can be the problem). */
export function badInputBase(cloud: LocalCloud, instance: string): Record<string, string> {
  return { ...passwordInputs(cloud), instance };
}

export const BAD_INPUT_CASES: BadInputCase[] = [
  bad('unknown mode', { mode: 'snapshot' }, 'mode: "snapshot" is not a mode', 'use create, delete, prune, restore, copy or verify'),
  bad('timeout with an unknown unit (45x)', { timeout: '45x' }, 'timeout: "45x" is not a duration', '90s, 45m, 2h or 1h30m'),
  bad('timeout of zero (0s)', { timeout: '0s' }, 'timeout: "0s" adds up to zero', '90s, 45m, 2h'),
  bad('timeout without a unit (10)', { timeout: '10' }, 'timeout: "10" has no unit', 'write 10s, 10m, 10h, 10d or 10w'),
  // An invalid keep-* is reported as itself, not also as "no policy": one problem.
  {
    name: 'keep-last 0 (prune)',
    inputs: (b) => ({ ...b, mode: 'prune', 'keep-last': '0' }),
    problems: 1,
    expect: ['keep-last: "0" is not valid', 'a whole number from 1 up'],
  },
  bad('negative keep-daily (prune)', { mode: 'prune', 'keep-daily': '-3', 'keep-last': '5' }, 'keep-daily: "-3" is not valid', 'a whole number from 1 up'),
  bad('fractional keep-weekly (create)', { 'keep-weekly': '2.5' }, 'keep-weekly: "2.5" is not valid', 'a whole number from 1 up'),
  bad('keep-within that is not a duration', { mode: 'prune', 'keep-within': 'forever' }, 'keep-within: "forever" is not a duration', '90s, 45m, 2h'),
  bad('keep-within of zero', { mode: 'prune', 'keep-within': '0d' }, 'keep-within: "0d" adds up to zero'),
  bad(
    'prune without any policy',
    { mode: 'prune' },
    'keep-last, keep-within, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly',
    'mode prune needs at least one',
  ),
  {
    name: 'keep-* in mode delete',
    inputs: (b) => ({ ...without(b, 'instance'), mode: 'delete', 'snapshot-id': '7c1e8f0a-1111-4222-8333-944445555666', 'keep-last': '2' }),
    expect: ['keep-*', 'for modes prune and create'],
  },
  bad('keep-* with wait: false (create)', { 'keep-last': '3', wait: 'false' }, 'wait:', 'need wait: true'),
  bad('snapshot-properties line without =', { 'snapshot-properties': 'purpose' }, 'snapshot-properties: line 1 ("purpose") is not key=value'),
  bad(
    'snapshot-properties key with a bad character',
    { 'snapshot-properties': 'team/name=ops' },
    'snapshot-properties: line 1',
    'the key must be 1 to 255 of the characters a-z A-Z 0-9 - _ : . and space',
  ),
  bad(
    'snapshot-properties value longer than 255',
    { 'snapshot-properties': `ok=fine\nnote=${'x'.repeat(256)}` },
    'snapshot-properties: line 2',
    'the value is 256 characters long, Nova takes at most 255',
  ),
  bad(
    'snapshot-properties key the action sets (managed_by)',
    { 'snapshot-properties': 'managed_by=me' },
    'snapshot-properties: line 1',
    '"managed_by" is set by this action itself',
  ),
  bad(
    'snapshot-properties key Glance owns (name)',
    { 'snapshot-properties': 'name=other' },
    'snapshot-properties: line 1',
    '"name" is an image attribute OpenStack sets itself',
  ),
  {
    name: 'region not in the catalog',
    needsCloud: true,
    inputs: (b) => ({ ...b, region: 'XYZ9' }),
    expect: (cloud) => [
      'Region "XYZ9" is not in the catalog',
      `this project's regions are ${[...cloud.regionNames].sort().join(', ')}`,
      'set the region input',
    ],
  },
  {
    name: 'ambiguous instance name (two servers)',
    needsCloud: true,
    arrange: (cloud) => {
      const name = unique('twin');
      const a = cloud.addServer({ region: 'GRA7', name });
      const b = cloud.addServer({ region: 'GRA7', name });
      return { name, a: a.id, b: b.id };
    },
    inputs: (b) => b,
    expect: (_cloud, ctx) => [`2 instances are named "${ctx.name}" in region GRA7`, ctx.a!, ctx.b!, 'set the instance input to the ID'],
  },
  { name: 'no auth-url', inputs: (b) => without(b, 'auth-url'), expect: ['auth-url: required (or OS_AUTH_URL)', 'https://auth.cloud.ovh.net/v3'] },
  bad('auth-url that is not a URL', { 'auth-url': 'auth.cloud.ovh.net/v3' }, 'auth-url: "auth.cloud.ovh.net/v3" is not an http(s) URL'),
  {
    name: 'Keystone v2 auth-url',
    inputs: (b, cloud) => ({ ...b, 'auth-url': `${cloud.url}/identity/v2.0` }),
    expect: ['auth-url:', '/identity/v2.0" is Keystone v2', 'use the /v3 URL'],
  },
  { name: 'no password', inputs: (b) => without(b, 'password'), expect: ['password: required for password authentication (or OS_PASSWORD)'] },
  {
    name: 'no username',
    inputs: (b) => without(b, 'username'),
    expect: ['username: required for password authentication (or OS_USERNAME)', 'application-credential-id'],
  },
  { name: 'no project', inputs: (b) => without(b, 'project-name'), expect: ['project-id or project-name: required for password authentication'] },
  {
    name: 'application credential ID without its secret',
    inputs: (b, cloud) => ({ ...without(b, 'username', 'password', 'project-name'), 'application-credential-id': cloud.demo.appCredId }),
    expect: ['application-credential-secret: required with application-credential-id'],
  },
  {
    name: 'application credential secret without its ID',
    inputs: (b, cloud) => ({ ...without(b, 'username', 'password', 'project-name'), 'application-credential-secret': cloud.demo.appCredSecret }),
    expect: ['application-credential-id: required with application-credential-secret'],
  },
  { name: 'no region', inputs: (b) => without(b, 'region'), expect: ['region: required (or OS_REGION_NAME)', 'GRA11'] },
  bad(
    'delete with both snapshot-id and snapshot-name',
    { mode: 'delete', 'snapshot-id': '7c1e8f0a-1111-4222-8333-944445555666', 'snapshot-name': 'web-1-x' },
    'snapshot-id and snapshot-name: give one of them, not both',
  ),
  bad('delete with neither snapshot-id nor snapshot-name', { mode: 'delete' }, 'snapshot-id or snapshot-name: mode delete needs the ID or the exact name'),
  bad('snapshot-id in mode create', { 'snapshot-id': '7c1e8f0a-1111-4222-8333-944445555666' }, 'snapshot-id: only for modes delete, restore, copy and verify'),
  bad(
    'snapshot-id in mode prune',
    { mode: 'prune', 'keep-last': '2', 'snapshot-id': '7c1e8f0a-1111-4222-8333-944445555666' },
    'snapshot-id: only for modes delete, restore, copy and verify',
  ),
  bad(
    'unknown template token',
    { 'snapshot-name': '{instance}-{branch}' },
    'snapshot-name: unknown {branch}',
    'valid tokens are {instance} {instance_id} {region} {date} {time} {timestamp}',
  ),
  bad('stray brace in the template', { 'snapshot-name': '{instance}-}' }, 'snapshot-name: it has a "{" or "}" that is not part of a {token}'),
  bad('wait that is not a boolean', { wait: 'yes' }, 'wait: "yes" is not a boolean; use true or false'),
  bad('dry-run that is not a boolean', { mode: 'prune', 'keep-last': '2', 'dry-run': 'maybe' }, 'dry-run: "maybe" is not a boolean; use true or false'),
  bad(
    'ignore-missing that is not a boolean',
    { mode: 'delete', 'snapshot-name': 'x', 'ignore-missing': 'on' },
    'ignore-missing: "on" is not a boolean; use true or false',
  ),
  bad('max-parallel 0', { mode: 'prune', 'keep-last': '2', 'max-parallel': '0' }, 'max-parallel: "0" is not valid', 'a whole number from 1 to 32'),
  bad('max-parallel 33', { mode: 'prune', 'keep-last': '2', 'max-parallel': '33' }, 'max-parallel: "33" is not valid', 'from 1 to 32'),
  // Inputs renamed before the first release: one given under its old name is an error, not ignored.
  bad(
    'image-id (renamed snapshot-id)',
    { mode: 'restore', 'image-id': '7c1e8f0a-1111-4222-8333-944445555666' },
    'image-id was renamed snapshot-id; give it as snapshot-id',
  ),
  // The roll-back of an old workflow: the old output name gives "", which must not restore the newest snapshot instead.
  bad('image-id given empty (renamed snapshot-id)', { mode: 'restore', 'image-id': '' }, 'image-id was renamed snapshot-id; give it as snapshot-id'),
  bad('metadata (renamed snapshot-properties)', { metadata: 'purpose=pre-deploy' }, 'metadata was renamed snapshot-properties; give it as snapshot-properties'),
  bad('stop-server (renamed stop-instance)', { 'stop-server': 'true' }, 'stop-server was renamed stop-instance; give it as stop-instance'),
  bad(
    'concurrency (renamed max-parallel)',
    { mode: 'prune', 'keep-last': '2', concurrency: '2' },
    'concurrency was renamed max-parallel; give it as max-parallel',
  ),
  bad('max-deletes 0', { mode: 'prune', 'keep-last': '2', 'max-deletes': '0' }, 'max-deletes: "0" is not valid', 'a whole number from 1 up'),
  bad('rate-limit -1', { 'rate-limit': '-1' }, 'rate-limit: "-1" is not valid', 'or 0 for no ceiling'),
  bad('interface bogus', { interface: 'bogus' }, 'interface: "bogus" is not an endpoint interface', 'use public, internal or admin'),
  { name: 'blank instance (create)', inputs: (b) => ({ ...b, instance: '   ' }), problems: 1, expect: ['instance: is blank', 'give an instance name or ID'] },
  bad(
    'blank instance (prune) does not widen the scope to the whole project',
    { mode: 'prune', instance: '  ', 'keep-last': '1', 'dry-run': 'true' },
    'instance:',
    'blank',
  ),
  {
    name: 'several problems at once are all listed',
    inputs: (b) => ({ ...b, timeout: 'soon', 'keep-last': '0', interface: 'bogus' }),
    problems: 3,
    expect: ['Invalid inputs:', 'timeout: "soon" is not a duration', 'keep-last: "0" is not valid', 'interface: "bogus" is not an endpoint interface'],
  },
  // Issue "Nothing deleted that the user did not mean": each used to end in success, or widen a prune.
  {
    name: 'snapshot-id that is not an ID (latest)',
    inputs: (b) => ({ ...without(b, 'instance'), mode: 'delete', 'snapshot-id': 'latest' }),
    expect: ['snapshot-id: "latest" is not a snapshot ID', 'give the UUID of the snapshot'],
  },
  bad(
    'snapshot-name given but blank (prune)',
    { mode: 'prune', 'keep-last': '1', 'snapshot-name': '  ' },
    'snapshot-name: is blank',
    'leave the input out to cover every name',
  ),
  bad('snapshot-name given but blank (create)', { 'snapshot-name': ' ' }, 'snapshot-name: is blank', 'the default {instance}-{timestamp}'),
  bad('delete-in-use in mode prune', { mode: 'prune', 'keep-last': '1', 'delete-in-use': 'true' }, 'delete-in-use: only for mode delete'),
  { name: 'verify without instance', inputs: (b) => ({ ...without(b, 'instance'), mode: 'verify' }), expect: ['instance: required for mode verify'] },
  bad(
    'verify-network that is not a network ID',
    { mode: 'verify', 'verify-network': 'Ext-Net' },
    'verify-network: "Ext-Net" is not a network ID',
    'leave it out to boot with no network',
  ),
  bad(
    'verify-console that is not a regular expression',
    { mode: 'verify', 'verify-console': 'login:(' },
    'verify-console: "login:(" is not a regular expression',
  ),
  bad('verify in mode prune', { mode: 'prune', 'keep-last': '1', verify: 'true' }, 'verify: only for mode create'),
  bad('verify-flavor in mode restore', { mode: 'restore', 'verify-flavor': 'd2-2' }, 'verify-flavor: only for mode verify, and mode create with verify: true'),
  bad('keep-verified in mode verify', { mode: 'verify', 'keep-verified': '1' }, 'keep-verified: only for modes prune and create'),
  bad('verify with wait: false', { mode: 'create', verify: 'true', wait: 'false' }, 'verify: boots the snapshot once it is active, so it needs wait: true'),
  { name: 'restore without instance', inputs: (b) => ({ ...without(b, 'instance'), mode: 'restore' }), expect: ['instance: required for mode restore'] },
  bad(
    'restore with both snapshot-id and snapshot-name',
    { mode: 'restore', 'snapshot-id': '7c1e8f0a-1111-4222-8333-944445555666', 'snapshot-name': 'web-1' },
    'snapshot-id and snapshot-name: give one of them',
  ),
  bad(
    'restore with instance and instance-tags (they add up: every tagged server would be rebuilt)',
    { mode: 'restore', 'instance-tags': 'prod' },
    'instance and instance-tags / instance-metadata: mode restore takes the instances by name or by selector, not both',
    'instance-tags: prod rebuilds every instance it picks',
  ),
  bad('keep-* in mode restore', { mode: 'restore', 'keep-last': '2' }, 'keep-*: retention inputs are for modes prune and create; mode restore deletes nothing'),
  bad('allow-other-instance in mode create', { 'allow-other-instance': 'true' }, 'allow-other-instance: only for mode restore'),
  bad('snapshot-before in mode delete', { mode: 'delete', 'snapshot-name': 'x', 'snapshot-before': 'true' }, 'snapshot-before: only for mode restore'),
  bad('restore with a timeout that is no duration', { mode: 'restore', timeout: '10' }, 'timeout:'),
  {
    name: 'a malformed HTTPS_PROXY (with a password): named, shown without the password',
    inputs: (b) => b,
    env: { HTTPS_PROXY: 'http://proxy:pr0xy-pa55@[bad' },
    expect: ['HTTPS_PROXY: "http://***@[bad" is not a valid proxy URL', 'e.g. http://proxy.example:3128'],
  },
  bad(
    'an auth-url with credentials that is not an http(s) URL: shown without them',
    { 'auth-url': 'ftp://joe:url-pa55@auth.example/v3' },
    'auth-url: "ftp://***@auth.example/v3" is not an http(s) URL',
  ),
  bad(
    'an auth-type the action does not know: the valid ones, in both spellings',
    { 'auth-type': 'v3kerberos' },
    'auth-type: "v3kerberos" is not a login',
    'password, v3password',
    'v3oidcclientcredentials, github-oidc',
  ),
  {
    name: 'github-oidc in a job that may not ask for an ID token: the permissions to add',
    inputs: (b) => ({ ...without(b, 'username', 'password'), 'auth-type': 'github-oidc', 'identity-provider': 'github' }),
    expect: ['auth-type: github-oidc needs an ID token from GitHub', 'add to the job (or the workflow): permissions: { id-token: write, contents: read }'],
  },
  {
    name: 'a token login without the token: the token input',
    inputs: (b) => ({ ...without(b, 'username', 'password'), 'auth-type': 'v3token' }),
    expect: ['token: required for a token login (or OS_TOKEN)'],
  },
  {
    name: 'a cloud of clouds.yaml where there is no clouds.yaml: the places looked in',
    inputs: (b) => ({ ...b, cloud: 'prod' }),
    env: { OS_CLIENT_CONFIG_FILE: '/nonexistent/osa/clouds.yaml' },
    expect: ['cloud: "prod" was asked for (or OS_CLOUD)', 'no clouds.yaml in /nonexistent/osa/clouds.yaml'],
  },
  // Copies in another region (issue 21).
  {
    name: 'copy-to-region given but blank',
    inputs: (b) => ({ ...b, mode: 'copy', 'copy-to-region': ' \n  ' }),
    expect: ['copy-to-region: is blank', 'one a line'],
  },
  {
    name: 'copy-to-region names the source region',
    inputs: (b) => ({ ...b, mode: 'copy', 'copy-to-region': `SBG5\n${b.region}` }),
    expect: ['copy-to-region: GRA7 is the region the snapshot is in (region)', 'give only other regions'],
  },
  {
    name: 'copy-to-region names a region twice',
    inputs: (b) => ({ ...b, mode: 'copy', 'copy-to-region': 'SBG5\nSBG5' }),
    expect: ['copy-to-region: SBG5 given more than once'],
  },
  {
    name: 'copy-to-region in mode delete',
    inputs: (b) => ({ ...b, mode: 'delete', 'snapshot-name': 'x', 'copy-to-region': 'SBG5' }),
    expect: ['copy-to-region: only for modes create and copy'],
  },
  {
    name: 'mode copy without copy-to-region',
    inputs: (b) => ({ ...b, mode: 'copy' }),
    expect: ['copy-to-region: required for mode copy'],
  },
  {
    name: 'mode copy with neither snapshot-id nor instance',
    inputs: (b) => ({ ...without(b, 'instance'), mode: 'copy', 'copy-to-region': 'SBG5' }),
    expect: ['snapshot-id or instance: mode copy needs the snapshot', 'whose newest snapshot made by this action'],
  },
  {
    name: 'create with copy-to-region and wait: false',
    inputs: (b) => ({ ...b, wait: 'false', 'copy-to-region': 'SBG5' }),
    expect: ['wait: copy-to-region copies the snapshot once it is active, so it needs wait: true'],
  },
  {
    name: 'copy-to-region: a region not in the catalog',
    needsCloud: true,
    inputs: (b) => ({ ...b, mode: 'copy', 'copy-to-region': 'SBG5\nBHS9' }),
    expect: (cloud) => [
      `copy-to-region: BHS9 is not in the catalog for the image service: this project's regions are ${[...cloud.regionNames].sort().join(', ')}; nothing was changed`,
    ],
  },
];

/** Run one case and check it; shared by bad-inputs.test.ts and secrets.test.ts. */
export async function runBadInput(cloud: LocalCloud, c: BadInputCase, instance: string): Promise<Step> {
  const ctx = c.arrange?.(cloud) ?? {};
  const expect = typeof c.expect === 'function' ? c.expect(cloud, ctx) : c.expect;
  const inputs = c.inputs(badInputBase(cloud, ctx.name ?? instance), cloud);
  const before = worldIds(cloud);
  const s = await step(cloud, inputs, c.env);
  const error = assertFailure(s, expect);
  assert.equal(mutating(s.records).length, 0, 'no mutating request');
  assert.deepEqual(worldIds(cloud), before, 'the cloud is unchanged');
  // The job summary says why too; the outputs are what they were before summaries of failures.
  const summary = summaryText(s.run.summary).replace(/\n+/g, '\n');
  if (c.needsCloud) {
    assert.ok(s.records.length > 0, 'this error needs the cloud (authentication, a lookup)');
    assert.equal(summary, `Region ${inputs.region} · Mode ${inputs.mode ?? 'create'}\nFailed\n${error}`);
    assert.deepEqual(Object.keys(s.run.outputs), ['api-requests']);
  } else {
    assert.equal(s.records.length, 0, `an input error is found before any request\n${error}`);
    const problems = error.split('\n').filter((l) => l.startsWith('- '));
    assert.match(error, /^Invalid inputs?:\n/);
    assert.equal(problems.length, c.problems ?? 1, `problems listed:\n${error}`);
    assert.equal(summary, [error.split(':\n')[0], ...problems.map((p) => p.slice(2))].join('\n'));
    assert.deepEqual(s.run.outputs, {});
  }
  return s;
}
