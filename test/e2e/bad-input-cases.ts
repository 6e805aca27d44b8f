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

/** The server every case names (it exists, so only the bad input can be the problem). */
export function badInputBase(cloud: LocalCloud, instance: string): Record<string, string> {
  return { ...passwordInputs(cloud), instance };
}

export const BAD_INPUT_CASES: BadInputCase[] = [
  {
    name: 'unknown mode',
    inputs: (b) => ({ ...b, mode: 'snapshot' }),
    expect: ['mode: "snapshot" is not a mode', 'use create, delete, prune, restore or copy'],
  },
  {
    name: 'timeout with an unknown unit (45x)',
    inputs: (b) => ({ ...b, timeout: '45x' }),
    expect: ['timeout: "45x" is not a duration', '90s, 45m, 2h or 1h30m'],
  },
  { name: 'timeout of zero (0s)', inputs: (b) => ({ ...b, timeout: '0s' }), expect: ['timeout: "0s" adds up to zero', '90s, 45m, 2h'] },
  { name: 'timeout without a unit (10)', inputs: (b) => ({ ...b, timeout: '10' }), expect: ['timeout: "10" has no unit', 'write 10s, 10m, 10h, 10d or 10w'] },
  // An invalid keep-* is reported as itself, not also as "no policy": one problem.
  {
    name: 'keep-last 0 (prune)',
    inputs: (b) => ({ ...b, mode: 'prune', 'keep-last': '0' }),
    problems: 1,
    expect: ['keep-last: "0" is not valid', 'a whole number from 1 up'],
  },
  {
    name: 'negative keep-daily (prune)',
    inputs: (b) => ({ ...b, mode: 'prune', 'keep-daily': '-3', 'keep-last': '5' }),
    expect: ['keep-daily: "-3" is not valid', 'a whole number from 1 up'],
  },
  {
    name: 'fractional keep-weekly (create)',
    inputs: (b) => ({ ...b, 'keep-weekly': '2.5' }),
    expect: ['keep-weekly: "2.5" is not valid', 'a whole number from 1 up'],
  },
  {
    name: 'keep-within that is not a duration',
    inputs: (b) => ({ ...b, mode: 'prune', 'keep-within': 'forever' }),
    expect: ['keep-within: "forever" is not a duration', '90s, 45m, 2h'],
  },
  { name: 'keep-within of zero', inputs: (b) => ({ ...b, mode: 'prune', 'keep-within': '0d' }), expect: ['keep-within: "0d" adds up to zero'] },
  {
    name: 'prune without any policy',
    inputs: (b) => ({ ...b, mode: 'prune' }),
    expect: ['keep-last, keep-within, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly', 'mode prune needs at least one'],
  },
  {
    name: 'keep-* in mode delete',
    inputs: (b) => ({ ...without(b, 'instance'), mode: 'delete', 'snapshot-id': '7c1e8f0a-1111-4222-8333-944445555666', 'keep-last': '2' }),
    expect: ['keep-*', 'for modes prune and create'],
  },
  { name: 'keep-* with wait: false (create)', inputs: (b) => ({ ...b, 'keep-last': '3', wait: 'false' }), expect: ['wait:', 'need wait: true'] },
  {
    name: 'snapshot-properties line without =',
    inputs: (b) => ({ ...b, 'snapshot-properties': 'purpose' }),
    expect: ['snapshot-properties: line 1 ("purpose") is not key=value'],
  },
  {
    name: 'snapshot-properties key with a bad character',
    inputs: (b) => ({ ...b, 'snapshot-properties': 'team/name=ops' }),
    expect: ['snapshot-properties: line 1', 'the key must be 1 to 255 of the characters a-z A-Z 0-9 - _ : . and space'],
  },
  {
    name: 'snapshot-properties value longer than 255',
    inputs: (b) => ({ ...b, 'snapshot-properties': `ok=fine\nnote=${'x'.repeat(256)}` }),
    expect: ['snapshot-properties: line 2', 'the value is 256 characters long, Nova takes at most 255'],
  },
  {
    name: 'snapshot-properties key the action sets (managed_by)',
    inputs: (b) => ({ ...b, 'snapshot-properties': 'managed_by=me' }),
    expect: ['snapshot-properties: line 1', '"managed_by" is set by this action itself'],
  },
  {
    name: 'snapshot-properties key Glance owns (name)',
    inputs: (b) => ({ ...b, 'snapshot-properties': 'name=other' }),
    expect: ['snapshot-properties: line 1', '"name" is an image attribute OpenStack sets itself'],
  },
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
  {
    name: 'auth-url that is not a URL',
    inputs: (b) => ({ ...b, 'auth-url': 'auth.cloud.ovh.net/v3' }),
    expect: ['auth-url: "auth.cloud.ovh.net/v3" is not an http(s) URL'],
  },
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
  {
    name: 'delete with both snapshot-id and snapshot-name',
    inputs: (b) => ({ ...b, mode: 'delete', 'snapshot-id': '7c1e8f0a-1111-4222-8333-944445555666', 'snapshot-name': 'web-1-x' }),
    expect: ['snapshot-id and snapshot-name: give one of them, not both'],
  },
  {
    name: 'delete with neither snapshot-id nor snapshot-name',
    inputs: (b) => ({ ...b, mode: 'delete' }),
    expect: ['snapshot-id or snapshot-name: mode delete needs the ID or the exact name'],
  },
  {
    name: 'snapshot-id in mode create',
    inputs: (b) => ({ ...b, 'snapshot-id': '7c1e8f0a-1111-4222-8333-944445555666' }),
    expect: ['snapshot-id: only for modes delete and restore'],
  },
  {
    name: 'snapshot-id in mode prune',
    inputs: (b) => ({ ...b, mode: 'prune', 'keep-last': '2', 'snapshot-id': '7c1e8f0a-1111-4222-8333-944445555666' }),
    expect: ['snapshot-id: only for modes delete and restore'],
  },
  {
    name: 'unknown template token',
    inputs: (b) => ({ ...b, 'snapshot-name': '{instance}-{branch}' }),
    expect: ['snapshot-name: unknown {branch}', 'valid tokens are {instance} {instance_id} {region} {date} {time} {timestamp}'],
  },
  {
    name: 'stray brace in the template',
    inputs: (b) => ({ ...b, 'snapshot-name': '{instance}-}' }),
    expect: ['snapshot-name: it has a "{" or "}" that is not part of a {token}'],
  },
  { name: 'wait that is not a boolean', inputs: (b) => ({ ...b, wait: 'yes' }), expect: ['wait: "yes" is not a boolean; use true or false'] },
  {
    name: 'dry-run that is not a boolean',
    inputs: (b) => ({ ...b, mode: 'prune', 'keep-last': '2', 'dry-run': 'maybe' }),
    expect: ['dry-run: "maybe" is not a boolean; use true or false'],
  },
  {
    name: 'ignore-missing that is not a boolean',
    inputs: (b) => ({ ...b, mode: 'delete', 'snapshot-name': 'x', 'ignore-missing': 'on' }),
    expect: ['ignore-missing: "on" is not a boolean; use true or false'],
  },
  {
    name: 'max-parallel 0',
    inputs: (b) => ({ ...b, mode: 'prune', 'keep-last': '2', 'max-parallel': '0' }),
    expect: ['max-parallel: "0" is not valid', 'a whole number from 1 to 32'],
  },
  {
    name: 'max-parallel 33',
    inputs: (b) => ({ ...b, mode: 'prune', 'keep-last': '2', 'max-parallel': '33' }),
    expect: ['max-parallel: "33" is not valid', 'from 1 to 32'],
  },
  // Inputs renamed before the first release: one given under its old name is an error, not ignored.
  {
    name: 'image-id (renamed snapshot-id)',
    inputs: (b) => ({ ...b, mode: 'restore', 'image-id': '7c1e8f0a-1111-4222-8333-944445555666' }),
    expect: ['image-id was renamed snapshot-id; give it as snapshot-id'],
  },
  // The roll-back of an old workflow: the old output name gives "", which must not restore the newest snapshot instead.
  {
    name: 'image-id given empty (renamed snapshot-id)',
    inputs: (b) => ({ ...b, mode: 'restore', 'image-id': '' }),
    expect: ['image-id was renamed snapshot-id; give it as snapshot-id'],
  },
  {
    name: 'metadata (renamed snapshot-properties)',
    inputs: (b) => ({ ...b, metadata: 'purpose=pre-deploy' }),
    expect: ['metadata was renamed snapshot-properties; give it as snapshot-properties'],
  },
  {
    name: 'stop-server (renamed stop-instance)',
    inputs: (b) => ({ ...b, 'stop-server': 'true' }),
    expect: ['stop-server was renamed stop-instance; give it as stop-instance'],
  },
  {
    name: 'concurrency (renamed max-parallel)',
    inputs: (b) => ({ ...b, mode: 'prune', 'keep-last': '2', concurrency: '2' }),
    expect: ['concurrency was renamed max-parallel; give it as max-parallel'],
  },
  {
    name: 'max-deletes 0',
    inputs: (b) => ({ ...b, mode: 'prune', 'keep-last': '2', 'max-deletes': '0' }),
    expect: ['max-deletes: "0" is not valid', 'a whole number from 1 up'],
  },
  { name: 'rate-limit -1', inputs: (b) => ({ ...b, 'rate-limit': '-1' }), expect: ['rate-limit: "-1" is not valid', 'or 0 for no ceiling'] },
  {
    name: 'interface bogus',
    inputs: (b) => ({ ...b, interface: 'bogus' }),
    expect: ['interface: "bogus" is not an endpoint interface', 'use public, internal or admin'],
  },
  { name: 'blank instance (create)', inputs: (b) => ({ ...b, instance: '   ' }), problems: 1, expect: ['instance: is blank', 'give an instance name or ID'] },
  {
    name: 'blank instance (prune) does not widen the scope to the whole project',
    inputs: (b) => ({ ...b, mode: 'prune', instance: '  ', 'keep-last': '1', 'dry-run': 'true' }),
    expect: ['instance:', 'blank'],
  },
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
  {
    name: 'snapshot-name given but blank (prune)',
    inputs: (b) => ({ ...b, mode: 'prune', 'keep-last': '1', 'snapshot-name': '  ' }),
    expect: ['snapshot-name: is blank', 'leave the input out to cover every name'],
  },
  {
    name: 'snapshot-name given but blank (create)',
    inputs: (b) => ({ ...b, 'snapshot-name': ' ' }),
    expect: ['snapshot-name: is blank', 'the default {instance}-{timestamp}'],
  },
  {
    name: 'delete-in-use in mode prune',
    inputs: (b) => ({ ...b, mode: 'prune', 'keep-last': '1', 'delete-in-use': 'true' }),
    expect: ['delete-in-use: only for mode delete'],
  },
  { name: 'restore without instance', inputs: (b) => ({ ...without(b, 'instance'), mode: 'restore' }), expect: ['instance: required for mode restore'] },
  {
    name: 'restore with both snapshot-id and snapshot-name',
    inputs: (b) => ({ ...b, mode: 'restore', 'snapshot-id': '7c1e8f0a-1111-4222-8333-944445555666', 'snapshot-name': 'web-1' }),
    expect: ['snapshot-id and snapshot-name: give one of them'],
  },
  {
    name: 'restore with instance and instance-tags (they add up: every tagged server would be rebuilt)',
    inputs: (b) => ({ ...b, mode: 'restore', 'instance-tags': 'prod' }),
    expect: [
      'instance and instance-tags / instance-metadata: mode restore takes the instances by name or by selector, not both',
      'instance-tags: prod rebuilds every instance it picks',
    ],
  },
  {
    name: 'keep-* in mode restore',
    inputs: (b) => ({ ...b, mode: 'restore', 'keep-last': '2' }),
    expect: ['keep-*: retention inputs are for modes prune and create; mode restore deletes nothing'],
  },
  {
    name: 'allow-other-instance in mode create',
    inputs: (b) => ({ ...b, 'allow-other-instance': 'true' }),
    expect: ['allow-other-instance: only for mode restore'],
  },
  {
    name: 'snapshot-before in mode delete',
    inputs: (b) => ({ ...b, mode: 'delete', 'snapshot-name': 'x', 'snapshot-before': 'true' }),
    expect: ['snapshot-before: only for mode restore'],
  },
  { name: 'restore with a timeout that is no duration', inputs: (b) => ({ ...b, mode: 'restore', timeout: '10' }), expect: ['timeout:'] },
  {
    name: 'a malformed HTTPS_PROXY (with a password): named, shown without the password',
    inputs: (b) => b,
    env: { HTTPS_PROXY: 'http://proxy:pr0xy-pa55@[bad' },
    expect: ['HTTPS_PROXY: "http://***@[bad" is not a valid proxy URL', 'e.g. http://proxy.example:3128'],
  },
  {
    name: 'an auth-url with credentials that is not an http(s) URL: shown without them',
    inputs: (b) => ({ ...b, 'auth-url': 'ftp://joe:url-pa55@auth.example/v3' }),
    expect: ['auth-url: "ftp://***@auth.example/v3" is not an http(s) URL'],
  },
  {
    name: 'an auth-type the action does not know: the valid ones, in both spellings',
    inputs: (b) => ({ ...b, 'auth-type': 'v3kerberos' }),
    expect: ['auth-type: "v3kerberos" is not a login', 'password, v3password', 'v3oidcclientcredentials, github-oidc'],
  },
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
