import * as core from '@actions/core';
import { Input, MODES, Output, Property, RENAMED_INPUTS, WAIT_CAPTURED } from '../lib/constants.ts';
import { hasWildcard } from '../lib/glob.ts';
import { inputReader, readPolicy } from './readers.ts';
import { readSelection, selectionProblems, type Selection } from './selection.ts';
import { parseMetadata } from './metadata.ts';
import { DEFAULT_NAME_TEMPLATE, templateProblems } from '../lib/name-template.ts';
import { isUuid } from '../openstack/compute.ts';
import type { Interface } from '../openstack/catalog.ts';
import type { TlsOptions } from '../openstack/client.ts';
import type { Credentials } from '../openstack/identity.ts';
import { PROVENANCE_KEYS, readProvenance, type Provenance } from '../lib/provenance.ts';
import { readStepKey, type StepKey } from '../lib/step-key.ts';
import type { Policy } from '../lib/retention.ts';
import { readCredentials } from './credentials.ts';
import { withCloudsYaml } from './clouds-yaml.ts';
import { readTls } from './tls.ts';
import { PROXY_VARIABLES, proxyProblems, userinfoSecrets } from './urls.ts';

const INTERFACES: readonly Interface[] = ['public', 'internal', 'admin'];

/** What every mode needs: where, as whom, how fast, and whether anything may change. */
export interface CommonSettings {
  region: string;
  iface: Interface;
  credentials: Credentials;
  /** The CAs trusted (cacert), or no check at all (insecure). */
  tls: TlsOptions;
  /** Requests per second at most (0: no ceiling). */
  rateLimit: number;
  /** Send nothing that changes the cloud: say what would be done. */
  dryRun: boolean;
  provenance: Provenance;
}

/** A retention policy and how to apply it: mode prune, and create with keep-* inputs. */
export interface Retention {
  policy: Policy;
  includeUnmanaged: boolean;
  maxDeletes: number;
  concurrency: number;
}

export interface CreateSettings extends CommonSettings {
  mode: 'create';
  /** The servers to snapshot, each on its own (a fleet under one rate ceiling, `concurrency` (max-parallel) at a time). */
  servers: Selection;
  /** Stop each running instance before its snapshot, and start it again as soon as its disk is captured. */
  stopInstance: boolean;
  /** Servers snapshotted at once. */
  concurrency: number;
  /** The name template (name-template.ts). */
  template: string;
  /** The template is the action's own (restore's snapshot-before), not snapshot-name: its `{instance}` part is shortened to fit. */
  fitName?: boolean;
  metadata: Record<string, string>;
  wait: boolean;
  /** wait: captured: return once each disk is captured; the post step waits for `active` (and prunes). */
  captured?: boolean;
  /** The post step's wait for the uploads left running (upload-timeout). */
  uploadTimeoutMs?: number;
  /** This run, job and step (GITHUB_RUN_ID, GITHUB_JOB, GITHUB_ACTION): a re-run reuses the snapshot it already took. */
  step?: StepKey;
  timeoutMs: number;
  /** Prune the instance's snapshots under this policy once the new one is active. */
  retention?: Retention;
}

export interface DeleteSettings extends CommonSettings {
  mode: 'delete';
  /** The image's ID, or its exact name. */
  target: { imageId: string } | { name: string };
  /** Only this instance's snapshots. */
  instance?: string;
  ignoreMissing: boolean;
  /** Delete an image that a server or volume still uses. */
  deleteInUse: boolean;
}

export interface PruneSettings extends CommonSettings {
  mode: 'prune';
  instance?: string;
  /** Only names matching this glob. */
  nameGlob?: string;
  retention: Retention;
}

export interface RestoreSettings extends CommonSettings {
  mode: 'restore';
  /** The servers to roll back (several: each from its own newest snapshot). */
  servers: Selection;
  /** Servers rebuilt at once. */
  concurrency: number;
  /** The snapshot: by ID, by exact name, or the instance's newest made by this action (of the names a glob matches). */
  snapshot: { imageId: string } | { name: string } | { newest: true; nameGlob?: string };
  /** Restore a snapshot of another instance (refused by default). */
  allowOtherInstance: boolean;
  /** Snapshot the server as it is before rebuilding it, so the roll-back can be undone. */
  snapshotBefore: boolean;
  timeoutMs: number;
}

export type Settings = CreateSettings | DeleteSettings | PruneSettings | RestoreSettings;

export const DEFAULTS = {
  timeout: '2h',
  uploadTimeout: '6h',
  maxDeletes: 100,
  concurrency: 4,
  rateLimit: 10,
} as const;

export class SettingsError extends Error {
  override name = 'SettingsError';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid input${problems.length > 1 ? 's' : ''}:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/**
 * Every input, with the openrc `OS_*` variables as fallbacks for the cloud ones, into one
 * validated object. All problems are gathered and reported together; nothing here talks to
 * the cloud. Secrets are masked as soon as they are read.
 */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const problems: string[] = [];
  const { text: given, bool, integer, duration } = inputReader(env, problems);
  // clouds.yaml fills in what the inputs and OS_* leave out (region and interface too).
  const text = withCloudsYaml(given, env, problems);

  for (const [old, now] of Object.entries(RENAMED_INPUTS)) {
    // Given at all (even empty, e.g. an output of a step that made none): it is a with: key of the workflow.
    if (process.env[`INPUT_${old.toUpperCase()}`] !== undefined) problems.push(`${old} was renamed ${now}; give it as ${now} (the old name is not read)`);
  }

  const modeText = (core.getInput(Input.Mode) || 'create').toLowerCase();
  const mode = MODES.find((m) => m === modeText);
  if (!mode) problems.push(`${Input.Mode}: "${modeText}" is not a mode; use create, delete, prune or restore`);

  const region = text(Input.Region, 'OS_REGION_NAME');
  if (!region) problems.push(`${Input.Region}: required (or OS_REGION_NAME), e.g. GRA11; the error after authentication lists the project's regions`);

  const ifaceNames = [Input.Interface, 'OS_INTERFACE', 'OS_ENDPOINT_TYPE'] as const;
  const ifaceText = (text(...ifaceNames) ?? 'public').toLowerCase().replace(/url$/, '');
  const iface = INTERFACES.find((i) => i === ifaceText);
  if (!iface) problems.push(`${text.from(...ifaceNames)}: "${ifaceText}" is not an endpoint interface; use public, internal or admin`);

  const credentials = readCredentials(text, problems);
  const tls = readTls(text, problems);

  const instance = core.getInput(Input.Instance) || undefined;
  // Given but blank (an empty secret or expression): read as "no instance", it would widen a prune to the project.
  if (!instance && process.env[`INPUT_${Input.Instance.toUpperCase()}`]?.length) {
    problems.push(`${Input.Instance}: is blank; give an instance name or ID${mode === 'create' ? '' : ', or leave the input out to cover every instance'}`);
  }
  const servers = readSelection(problems, bool);
  const snapshotName = core.getInput(Input.SnapshotName) || undefined;
  // The runner passes an input that was not given as "": only a blank one that is not empty can be told from it.
  if (!snapshotName && process.env[`INPUT_${Input.SnapshotName.toUpperCase().replace(/ /g, '_')}`]?.length) {
    problems.push(
      `${Input.SnapshotName}: is blank; give a name${mode === 'prune' ? ' or a glob, or leave the input out to cover every name' : mode === 'create' ? ' template, or leave the input out for the default {instance}-{timestamp}' : ''}`,
    );
  }
  const imageId = core.getInput(Input.SnapshotId) || undefined;
  if (imageId && !isUuid(imageId))
    problems.push(
      `${Input.SnapshotId}: "${imageId}" is not a snapshot ID; give the UUID of the snapshot (e.g. from the ${Output.SnapshotId} output of mode create, or openstack image list)`,
    );
  const timeoutMs = duration(Input.Timeout, core.getInput(Input.Timeout) || DEFAULTS.timeout) ?? 0;

  const { metadata, problems: metadataProblems } = parseMetadata(core.getInput(Input.SnapshotProperties), 'image', [
    ...Object.values(Property),
    ...PROVENANCE_KEYS,
  ]);
  problems.push(...metadataProblems.map((p) => `${Input.SnapshotProperties}: ${p}`));

  const { policy, hasPolicy } = readPolicy(integer, duration);

  const concurrency = integer(Input.MaxParallel, DEFAULTS.concurrency, 1, 32) ?? DEFAULTS.concurrency;
  // Read (and checked) only where a policy applies: mode prune, and create with keep-*.
  const retention: Retention | undefined =
    mode === 'prune' || (mode === 'create' && hasPolicy)
      ? {
          policy,
          includeUnmanaged: bool(Input.IncludeUnmanaged, false),
          maxDeletes: integer(Input.MaxDeletes, DEFAULTS.maxDeletes, 1) ?? DEFAULTS.maxDeletes,
          concurrency,
        }
      : undefined;
  const waitText = core.getInput(Input.Wait);
  const captured = waitText.toLowerCase() === WAIT_CAPTURED;
  // The runner's booleans (true, True, TRUE, false…), or captured.
  const wait = captured || !/^(false|False|FALSE)$/.test(waitText);
  if (!captured && waitText && !/^(true|True|TRUE|false|False|FALSE)$/.test(waitText))
    problems.push(
      `${Input.Wait}: "${waitText}" is not a boolean; use true or false, or ${WAIT_CAPTURED} (until each disk is captured; the post step waits for active)`,
    );
  const uploadTimeoutMs = duration(Input.UploadTimeout, core.getInput(Input.UploadTimeout) || DEFAULTS.uploadTimeout) ?? 0;
  const deleteInUse = bool(Input.DeleteInUse, false);
  const ignoreMissing = bool(Input.IgnoreMissing, false);
  const allowOtherInstance = bool(Input.AllowOtherInstance, false);
  const snapshotBefore = bool(Input.SnapshotBefore, false);

  problems.push(...selectionProblems(mode, servers, !!imageId || (!!snapshotName && !hasWildcard(snapshotName))));
  if (mode === 'create') {
    if (imageId) problems.push(`${Input.SnapshotId}: only for modes delete and restore; mode create makes a new snapshot`);
    const problemsOfTemplate = templateProblems(snapshotName ?? DEFAULT_NAME_TEMPLATE);
    problems.push(...problemsOfTemplate.map((p) => `${Input.SnapshotName}: ${p}`));
    if (hasPolicy && !wait)
      problems.push(
        `${Input.Wait}: keep-* inputs prune only after the new snapshot is active, so they need wait: true (or ${WAIT_CAPTURED}: the post step prunes)`,
      );
  } else if (mode === 'delete') {
    if (!imageId && !snapshotName)
      problems.push(`${Input.SnapshotId} or ${Input.SnapshotName}: mode delete needs the ID or the exact name of the snapshot to delete`);
    if (imageId && snapshotName) problems.push(`${Input.SnapshotId} and ${Input.SnapshotName}: give one of them, not both (the ID alone is exact)`);
    if (hasPolicy) problems.push(`keep-*: retention inputs are for modes prune and create; mode delete deletes one snapshot`);
  } else if (mode === 'prune') {
    if (!hasPolicy) {
      problems.push(
        `keep-last, keep-within, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly: mode prune needs at least one (no policy would delete everything)`,
      );
    }
    if (imageId) problems.push(`${Input.SnapshotId}: only for modes delete and restore; prune selects by instance and snapshot-name`);
  } else if (mode === 'restore') {
    if (imageId && snapshotName) problems.push(`${Input.SnapshotId} and ${Input.SnapshotName}: give one of them, not both (the ID alone is exact)`);
    if (hasPolicy) problems.push(`keep-*: retention inputs are for modes prune and create; mode restore deletes nothing`);
  }
  if (mode !== 'restore') {
    if (allowOtherInstance) problems.push(`${Input.AllowOtherInstance}: only for mode restore`);
    if (snapshotBefore) problems.push(`${Input.SnapshotBefore}: only for mode restore`);
  }
  const stopInstance = bool(Input.StopInstance, false);
  if (mode !== 'create' && stopInstance) problems.push(`${Input.StopInstance}: only for mode create`);
  if (mode !== 'delete' && deleteInUse) problems.push(`${Input.DeleteInUse}: only for mode delete; prune and create never delete a snapshot in use`);

  // The proxy's password is masked before the proxy is used or any problem is shown.
  for (const name of PROXY_VARIABLES) for (const secret of userinfoSecrets(env[name] ?? '')) core.setSecret(secret);
  problems.push(...proxyProblems(env));

  const rateLimit = Number(core.getInput(Input.RateLimit) || DEFAULTS.rateLimit);
  if (!Number.isFinite(rateLimit) || rateLimit < 0)
    problems.push(`${Input.RateLimit}: "${core.getInput(Input.RateLimit)}" is not valid; use requests per second (e.g. 10), or 0 for no ceiling`);

  const dryRun = bool(Input.DryRun, false);
  if (problems.length || !mode || !region || !iface || !credentials) throw new SettingsError(problems);
  const step = readStepKey(env);
  const common: CommonSettings = { region, iface, credentials, tls, rateLimit, dryRun, provenance: readProvenance(env) };
  switch (mode) {
    case 'create':
      return {
        ...common,
        mode,
        servers,
        stopInstance,
        concurrency,
        template: snapshotName ?? DEFAULT_NAME_TEMPLATE,
        metadata,
        wait,
        ...(captured ? { captured, uploadTimeoutMs } : {}),
        ...(step ? { step } : {}),
        timeoutMs,
        ...(retention ? { retention } : {}),
      };
    case 'delete':
      return { ...common, mode, target: imageId ? { imageId } : { name: validated(snapshotName) }, instance, ignoreMissing, deleteInUse };
    case 'prune':
      return { ...common, mode, instance, nameGlob: snapshotName, retention: validated(retention) };
    case 'restore': {
      const snapshot = imageId
        ? { imageId }
        : snapshotName && !hasWildcard(snapshotName)
          ? { name: snapshotName }
          : { newest: true as const, ...(snapshotName ? { nameGlob: snapshotName } : {}) };
      return { ...common, mode, servers, concurrency, snapshot, allowOtherInstance, snapshotBefore, timeoutMs };
    }
  }
}

/** A value the checks above have made sure of (each missing one is a problem reported before this). */
function validated<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('internal: a required input passed validation without a value');
  return value;
}
