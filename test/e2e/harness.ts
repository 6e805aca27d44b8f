// Shared helpers of the end-to-end tests: run the built action (dist/index.js) against the project's
// LocalCloud with step debug on, attribute the cloud's request records and tokens to that run, and
// check every run for leaked secrets. Every e2e run goes through `step()`, so the secrets check
// covers every scenario of every table, not only secrets.test.ts.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Input, MANAGED_BY } from '../../src/lib/constants.ts';
import { LocalCloud } from '../local-cloud/cloud.ts';
import type { Image, LocalCloudOptions, RequestRecord, Server } from '../local-cloud/cloud.ts';
import { errorsOf, runAction, type ActionRun, type RunOptions } from '../support/run-action.ts';
import { PROXY_VARIABLES, userinfoSecrets } from '../../src/settings/urls.ts';

export { LocalCloud };
export type { ActionRun, Image, RequestRecord, Server };

/** Step debug on, as a re-run with "Enable debug logging" does. */
export const STEP_DEBUG = { RUNNER_DEBUG: '1', ACTIONS_STEP_DEBUG: 'true' } as const;

export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;

let counter = 0;
/** A name no other test of this process uses (and that is not a prefix of another: it ends in `x`). */
export function unique(base: string): string {
  counter += 1;
  return `${base}-${String(counter).padStart(3, '0')}x`;
}

export function startCloud(opts: LocalCloudOptions = {}): Promise<LocalCloud> {
  return LocalCloud.start({ snapshotSeconds: 1, ...opts });
}

/** Password credentials and region as inputs. */
export function passwordInputs(cloud: LocalCloud, region = 'GRA7'): Record<string, string> {
  return {
    'auth-url': cloud.authUrl,
    username: cloud.demo.username,
    password: cloud.demo.password,
    'project-name': cloud.demo.projectName,
    region,
  };
}

/** Application credential and region as inputs. */
export function appCredentialInputs(cloud: LocalCloud, region = 'GRA7'): Record<string, string> {
  return {
    'auth-url': cloud.authUrl,
    'application-credential-id': cloud.demo.appCredId,
    'application-credential-secret': cloud.demo.appCredSecret,
    region,
  };
}

// ---------------------------------------------------------------------------------------------
// Secrets

export interface Secret {
  label: string;
  value: string;
}

export interface Leak {
  secret: string;
  where: 'stdout' | 'stderr' | 'GITHUB_OUTPUT' | 'GITHUB_STEP_SUMMARY';
  line: string;
}

const ADD_MASK = '::add-mask::';

/** How @actions/core writes a value into a workflow command (`::name::data`), and how the runner reads it back. */
const escapeData = (v: string) => v.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
const escapeProperty = (v: string) => escapeData(v).replace(/:/g, '%3A').replace(/,/g, '%2C');
const unescapeData = (v: string) => v.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');

/** The values the run asked the runner to mask (as the runner reads the command). */
export function maskedValues(run: ActionRun): Set<string> {
  return new Set(
    run.stdout
      .split('\n')
      .filter((line) => line.startsWith(ADD_MASK))
      .map((line) => unescapeData(line.slice(ADD_MASK.length).replace(/\r$/, ''))),
  );
}

/**
 * Every appearance of a secret outside the `::add-mask::` lines (the runner consumes those and
 * never shows them) in stdout, stderr, the outputs file and the job summary: as is, and in the
 * escaped forms a workflow command would carry it in.
 */
export function findLeaks(run: ActionRun, secrets: readonly Secret[]): Leak[] {
  const outputsText = Object.entries(run.outputs)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
  const streams: [Leak['where'], string][] = [
    ['stdout', run.stdout],
    ['stderr', run.stderr],
    ['GITHUB_OUTPUT', outputsText],
    ['GITHUB_STEP_SUMMARY', run.summary],
  ];
  const leaks: Leak[] = [];
  for (const [where, text] of streams) {
    for (const line of text.split('\n')) {
      if (where === 'stdout' && line.startsWith(ADD_MASK)) continue;
      for (const secret of secrets) {
        if (!secret.value) continue;
        // Also as an error body's text comes out once tags are cut and spaces folded (a mask would no longer match it).
        const reshaped = secret.value
          .replace(/<[^>]*>/g, ' ')
          .replace(/\s+/g, ' ')
          .trim();
        const forms = [...new Set([secret.value, escapeData(secret.value), escapeProperty(secret.value), ...(reshaped.length >= 4 ? [reshaped] : [])])];
        const form = forms.find((f) => line.includes(f));
        if (form) leaks.push({ secret: secret.label, where, line: line.replaceAll(form, `<${secret.label}>`) });
      }
    }
  }
  return leaks;
}

/** Every secret this cloud knows of: the demo password, the application credential secret, every token it issued. */
export function cloudSecrets(cloud: LocalCloud): Secret[] {
  return [
    { label: 'password', value: cloud.demo.password },
    { label: 'application-credential-secret', value: cloud.demo.appCredSecret },
    ...[...cloud.world.tokens.keys()].map((value, i) => ({ label: `token#${i + 1}`, value })),
  ];
}

// ---------------------------------------------------------------------------------------------
// Running the action

export interface Step {
  run: ActionRun;
  /** The cloud's request records made while this run was going (the caller runs one step per cloud at a time). */
  records: RequestRecord[];
  errors: string[];
  /** Tokens the cloud issued during this run. */
  newTokens: string[];
  /** Secrets given to this run (inputs and env) and tokens issued to it: each must have been masked. */
  given: Secret[];
  leaks: Leak[];
  /** Given secrets with no `::add-mask::` line. */
  unmasked: string[];
}

const SECRET_INPUTS = [Input.Password, Input.ApplicationCredentialSecret, Input.Token, Input.ClientSecret];
const SECRET_ENV = ['OS_PASSWORD', 'OS_APPLICATION_CREDENTIAL_SECRET', 'OS_TOKEN', 'OS_CLIENT_SECRET'];
/** URLs whose userinfo (user:password@) is a secret too. */
const URL_INPUTS = [Input.AuthUrl, Input.DiscoveryEndpoint, Input.AccessTokenEndpoint];
const URL_ENV = ['OS_AUTH_URL', 'OS_DISCOVERY_ENDPOINT', 'OS_ACCESS_TOKEN_ENDPOINT', ...PROXY_VARIABLES];

/**
 * Run dist/index.js as the runner does, with step debug on, against `cloud`. Attributes the
 * cloud's records and new tokens to the run (one run per cloud at a time) and asserts, for every
 * run, that no secret leaked and that every secret it was given or issued was masked.
 */
export async function step(
  cloud: LocalCloud,
  inputs: Record<string, string>,
  env: Record<string, string | undefined> = {},
  options: RunOptions = {},
): Promise<Step> {
  const before = cloud.requests.length;
  const tokensBefore = new Set(cloud.world.tokens.keys());
  const run = await runAction(inputs, { ...STEP_DEBUG, ...env }, options);
  const records = cloud.requests.slice(before);
  const newTokens = [...cloud.world.tokens.keys()].filter((t) => !tokensBefore.has(t));
  const given: Secret[] = [
    ...SECRET_INPUTS.filter((k) => inputs[k]).map((k) => ({ label: k, value: inputs[k]! })),
    ...SECRET_ENV.filter((k) => env[k]).map((k) => ({ label: k, value: env[k]! })),
    ...[...URL_INPUTS.map((k) => [k, inputs[k]] as const), ...URL_ENV.map((k) => [k, env[k]] as const)].flatMap(([k, url]) =>
      userinfoSecrets(url ?? '').map((value) => ({ label: `credentials in ${k}`, value })),
    ),
    ...newTokens.map((value, i) => ({ label: `issued token #${i + 1}`, value })),
  ];
  const leaks = findLeaks(run, [...cloudSecrets(cloud), ...given]);
  const masked = maskedValues(run);
  const unmasked = given.filter((s) => !masked.has(s.value)).map((s) => s.label);
  const result: Step = { run, records, errors: errorsOf(run), newTokens, given, leaks, unmasked };
  assert.deepEqual(leaks, [], `secrets leaked:\n${leaks.map((l) => `  ${l.secret} in ${l.where}: ${l.line}`).join('\n')}`);
  assert.deepEqual(unmasked, [], `secrets given to the run but never masked: ${unmasked.join(', ')}`);
  return result;
}

/** A readable dump of a run for assertion messages. */
export function describeRun(s: Step | ActionRun): string {
  const run = 'run' in s ? s.run : s;
  const log = run.stdout
    .split('\n')
    .filter((l) => l && !l.startsWith('::debug::') && !l.startsWith(ADD_MASK))
    .join('\n');
  return `exit ${run.code} in ${run.durationMs} ms\n--- log\n${log}\n--- stderr\n${run.stderr}\n--- outputs\n${JSON.stringify(run.outputs, null, 1)}`;
}

export function assertSuccess(s: Step): void {
  assert.equal(s.run.code, 0, `expected success\n${describeRun(s)}`);
  assert.deepEqual(s.errors, [], `expected no ::error::\n${describeRun(s)}`);
}

/** Exit 1 with one ::error:: containing every fragment. */
export function assertFailure(s: Step, fragments: readonly (string | RegExp)[]): string {
  assert.equal(s.run.code, 1, `expected exit 1\n${describeRun(s)}`);
  assert.equal(s.errors.length, 1, `expected exactly one ::error::\n${describeRun(s)}`);
  const error = s.errors[0]!;
  for (const f of fragments) {
    if (typeof f === 'string') assert.ok(error.includes(f), `the error should contain ${JSON.stringify(f)}; it is:\n${error}`);
    else assert.match(error, f);
  }
  return error;
}

export const mutating = (records: readonly RequestRecord[]) => records.filter((r) => r.mutating);
export const deletes = (records: readonly RequestRecord[]) => records.filter((r) => r.method === 'DELETE');
export const tokenPosts = (records: readonly RequestRecord[]) => records.filter((r) => r.service === 'identity' && r.method === 'POST');
/** createImage requests Nova executed for this server (202): the snapshots it made. */
export const executedCreates = (records: readonly RequestRecord[], serverId: string) =>
  records.filter((r) => r.action === 'createImage' && r.status === 202 && r.path.includes(serverId));
export const createAttempts = (records: readonly RequestRecord[], serverId: string) =>
  records.filter((r) => r.action === 'createImage' && r.path.includes(serverId));

export function jsonOutput<T = string[]>(s: Step, name: string): T {
  const raw = s.run.outputs[name];
  assert.ok(raw !== undefined, `output ${name} is missing\n${describeRun(s)}`);
  return JSON.parse(raw) as T;
}

// ---------------------------------------------------------------------------------------------
// The job summary

const decode = (s: string) =>
  s
    .replace(/<[^>]+>/g, '')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();

/** The HTML tables of the summary, as rows of cell texts (header row first). */
export function summaryTables(html: string): string[][][] {
  return [...html.matchAll(/<table>([\s\S]*?)<\/table>/g)].map(([, table]) =>
    [...table!.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map(([, row]) => [...row!.matchAll(/<t[hd][^>]*>([\s\S]*?)<\/t[hd]>/g)].map(([, cell]) => decode(cell!))),
  );
}

/** The summary as plain text (headings and paragraphs), for phrases outside tables. */
export function summaryText(html: string): string {
  return decode(html.replace(/<\/(h\d|p|tr|table|li)>/g, '\n').replace(/<br\s*\/?>/g, '\n'));
}

export const CREATE_TABLE = ['Snapshot', 'Snapshot ID', 'Status', 'Instance', 'Size', 'Took'];
export const PRUNE_TABLE = ['Instance', 'Snapshot', 'Snapshot ID', 'Created', 'Size', 'Result'];
export const DELETE_TABLE = ['Snapshot', 'Snapshot ID', 'Volume snapshots'];

/** The rows (header excluded) of the summary table with exactly these column headers; fails when there is none. */
export function tableRows(s: Step, header: readonly string[]): string[][] {
  const table = summaryTables(s.run.summary).find((t) => JSON.stringify(t[0]) === JSON.stringify(header));
  assert.ok(table, `no summary table with the columns ${header.join(' | ')}\n${s.run.summary}`);
  return table.slice(1);
}

// ---------------------------------------------------------------------------------------------
// Cloud state

export function managedProps(server: Pick<Server, 'id' | 'name'>, extra: Record<string, string> = {}): Record<string, string> {
  return {
    managed_by: MANAGED_BY,
    source_instance_id: server.id,
    source_instance_name: server.name,
    image_type: 'snapshot',
    instance_uuid: server.id,
    ...extra,
  };
}

/** Nova's own properties on an image-backed snapshot not made by this action (Horizon, CLI). */
export function unmanagedProps(server: Pick<Server, 'id'>): Record<string, string> {
  return { image_type: 'snapshot', instance_uuid: server.id };
}

/** Older snapshots, newest first: `count` images `hoursApart` apart, the newest `startHoursAgo` ago. */
export function seedSnapshots(
  cloud: LocalCloud,
  server: Server,
  count: number,
  opts: { name?: (i: number, at: Date) => string; hoursApart?: number; startHoursAgo?: number; props?: Record<string, string>; managed?: boolean } = {},
): Image[] {
  const now = Date.now();
  const apart = opts.hoursApart ?? 24;
  const start = opts.startHoursAgo ?? 1;
  return Array.from({ length: count }, (_, i) => {
    const at = new Date(now - (start + i * apart) * HOUR);
    return cloud.addImage({
      region: server.region,
      name: opts.name ? opts.name(i, at) : `${server.name}-${stamp(at)}`,
      createdAt: at,
      properties: { ...(opts.managed === false ? unmanagedProps(server) : managedProps(server)), ...opts.props },
    });
  });
}

/**
 * A volume-backed snapshot as Nova makes it: an image whose block_device_mapping names a Cinder
 * snapshot of the server's root volume, called "snapshot for <image name>".
 */
export function volumeBackedSnapshot(
  cloud: LocalCloud,
  server: Server,
  image: { name: string; createdAt?: Date; properties?: Record<string, string> },
): { image: Image; volumeSnapshotId: string } {
  const volumeSnapshotId = randomUUID();
  const bdm = { block_device_mapping: JSON.stringify([{ source_type: 'snapshot', snapshot_id: volumeSnapshotId, boot_index: 0 }]), bdm_v2: 'True' };
  const added = cloud.addImage({
    region: server.region,
    name: image.name,
    createdAt: image.createdAt,
    size: 0,
    properties: { ...(image.properties ?? managedProps(server)), ...bdm },
  });
  cloud.addVolumeSnapshot({
    region: server.region,
    id: volumeSnapshotId,
    name: `snapshot for ${image.name}`,
    volumeId: cloud.server(server.id)?.rootVolumeId ?? undefined,
  });
  return { image: added, volumeSnapshotId };
}

/** The `{timestamp}` of the default template. */
export function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** Images of the server (by the action's property or Nova's), in any status, as the cloud has them now. */
export function snapshotsOf(cloud: LocalCloud, server: Pick<Server, 'id' | 'region'>): Image[] {
  return cloud.images(server.region).filter((i) => i.properties.source_instance_id === server.id || i.properties.instance_uuid === server.id);
}

/** Every image and volume snapshot of every region, by ID. */
export function worldIds(cloud: LocalCloud): Set<string> {
  return new Set(
    cloud.regionNames.flatMap((r) => [
      ...cloud.images(r).map((i) => i.id),
      ...(cloud.cinderRegions.includes(r) ? cloud.volumeSnapshots(r).map((s) => s.id) : []),
    ]),
  );
}

export const ids = (images: readonly { id: string }[]) => images.map((i) => i.id);
export const sorted = (values: Iterable<string>) => [...values].sort();
