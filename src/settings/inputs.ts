import * as core from '@actions/core';
import { Input, Output, Property, WAIT_CAPTURED, type Mode } from '../lib/constants.ts';
import { PROVENANCE_KEYS } from '../lib/provenance.ts';
import type { Policy } from '../lib/retention.ts';
import { readStepKey } from '../lib/step-key.ts';
import { isUuid } from '../openstack/compute.ts';
import type { CommonSettings } from './common.ts';
import { parseMetadata } from './metadata.ts';
import { readPolicy, type Reader } from './readers.ts';
import { readCopyRegions } from './regions.ts';
import { readSelection } from './selection.ts';

/** A retention policy and how to apply it: mode prune, and create with keep-* inputs. */
export interface Retention {
  policy: Policy;
  includeUnmanaged: boolean;
  maxDeletes: number;
  concurrency: number;
}

/** The inputs of every mode, each read and checked on its own; how they go together is each mode's rules. */
export type Inputs = ReturnType<typeof readInputs>;

/** One mode's rules: what is wrong with the inputs for it, and, once nothing is, its own part of the settings. */
export interface ModeRules<S extends CommonSettings> {
  check(inputs: Inputs, problems: string[]): void;
  settings(inputs: Inputs, stopInstance: boolean): Omit<S, keyof CommonSettings>;
}

const DEFAULTS = { timeout: '2h', uploadTimeout: '6h', maxDeletes: 100, concurrency: 4 } as const;

export const ID_AND_NAME = `${Input.SnapshotId} and ${Input.SnapshotName}: give one of them, not both (the ID alone is exact)`;

/** Every mode's inputs, each checked on its own whatever the mode (which only words a blank one's problem, and says whether a policy applies). */
export function readInputs(mode: Mode | undefined, { bool, integer, duration }: Reader, problems: string[], env: NodeJS.ProcessEnv) {
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
    mode === 'prune' || ((mode === 'create' || mode === 'copy') && hasPolicy)
      ? {
          policy,
          includeUnmanaged: bool(Input.IncludeUnmanaged, false),
          maxDeletes: integer(Input.MaxDeletes, DEFAULTS.maxDeletes, 1) ?? DEFAULTS.maxDeletes,
          concurrency,
        }
      : undefined;
  const copyToRegion = readCopyRegions(problems);
  const waitText = core.getInput(Input.Wait);
  const captured = waitText.toLowerCase() === WAIT_CAPTURED;
  // The runner's booleans (true, True, TRUE, false…), or captured.
  const wait = captured || !/^(false|False|FALSE)$/.test(waitText);
  if (!captured && waitText && !/^(true|True|TRUE|false|False|FALSE)$/.test(waitText))
    problems.push(
      `${Input.Wait}: "${waitText}" is not a boolean; use true or false, or ${WAIT_CAPTURED} (until each disk is captured; the post step waits for active)`,
    );
  return {
    instance,
    servers,
    snapshotName,
    imageId,
    timeoutMs,
    metadata,
    /** A keep-* input was given (a keep-* given but invalid is reported as such, not also as "no policy"). */
    hasPolicy,
    concurrency,
    retention,
    wait,
    /** wait: captured. */
    captured,
    uploadTimeoutMs: duration(Input.UploadTimeout, core.getInput(Input.UploadTimeout) || DEFAULTS.uploadTimeout) ?? 0,
    step: readStepKey(env),
    deleteInUse: bool(Input.DeleteInUse, false),
    ignoreMissing: bool(Input.IgnoreMissing, false),
    allowOtherInstance: bool(Input.AllowOtherInstance, false),
    snapshotBefore: bool(Input.SnapshotBefore, false),
    ...readVerifyInputs(problems, bool),
    /** copy-to-region: the regions to copy to (modes create and copy). */
    copyToRegion,
  };
}

/** verify-flavor, verify-network, verify-console and verify: how a throwaway server is booted from a snapshot, and what it must print. */
function readVerifyInputs(problems: string[], bool: Reader['bool']) {
  const verifyFlavor = core.getInput(Input.VerifyFlavor) || undefined;
  const verifyNetwork = core.getInput(Input.VerifyNetwork) || undefined;
  if (verifyNetwork && !isUuid(verifyNetwork))
    problems.push(
      `${Input.VerifyNetwork}: "${verifyNetwork}" is not a network ID; give the UUID of the network (openstack network list), or leave it out to boot with no network`,
    );
  const consoleText = core.getInput(Input.VerifyConsole) || undefined;
  let verifyConsole: RegExp | undefined;
  try {
    verifyConsole = consoleText === undefined ? undefined : new RegExp(consoleText);
  } catch (error) {
    problems.push(`${Input.VerifyConsole}: "${consoleText}" is not a regular expression (${(error as Error).message})`);
  }
  return { verifyFlavor, verifyNetwork, verifyConsole, verify: bool(Input.Verify, false), keepVerifiedGiven: !!core.getInput(Input.KeepVerified) };
}

/**
 * The inputs of one mode alone, refused in the others; returns stop-instance, read here (after
 * the mode's rules) where its problem has always come.
 */
export function oneModeInputs(mode: Mode | undefined, inputs: Inputs, bool: Reader['bool'], problems: string[]): boolean {
  if (mode !== 'restore') {
    if (inputs.allowOtherInstance) problems.push(`${Input.AllowOtherInstance}: only for mode restore`);
    if (inputs.snapshotBefore) problems.push(`${Input.SnapshotBefore}: only for mode restore`);
  }
  if (mode !== 'verify' && !(mode === 'create' && inputs.verify)) {
    for (const [name, given] of [
      [Input.VerifyFlavor, inputs.verifyFlavor],
      [Input.VerifyNetwork, inputs.verifyNetwork],
      [Input.VerifyConsole, inputs.verifyConsole],
    ] as const)
      if (given) problems.push(`${name}: only for mode verify, and mode create with ${Input.Verify}: true`);
  }
  if (mode !== 'create' && inputs.verify) problems.push(`${Input.Verify}: only for mode create (mode verify boots the snapshots it selects)`);
  if (mode !== 'prune' && mode !== 'create' && inputs.keepVerifiedGiven) problems.push(`${Input.KeepVerified}: only for modes prune and create (with keep-*)`);
  if (mode !== 'create' && mode !== 'copy' && inputs.copyToRegion) problems.push(`${Input.CopyToRegion}: only for modes create and copy`);
  const stopInstance = bool(Input.StopInstance, false);
  if (mode !== 'create' && stopInstance) problems.push(`${Input.StopInstance}: only for mode create`);
  if (mode !== 'delete' && inputs.deleteInUse) problems.push(`${Input.DeleteInUse}: only for mode delete; prune and create never delete a snapshot in use`);
  return stopInstance;
}

/** A value the checks have made sure of (each missing one is a problem reported before the settings are built). */
export function validated<T>(value: T | undefined): T {
  if (value === undefined) throw new Error('internal: a required input passed validation without a value');
  return value;
}
