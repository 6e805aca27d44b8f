import { Input, Property } from '../../lib/constants.ts';
import { formatDuration } from '../../lib/duration.ts';
import { log, t } from '../../lib/log.ts';
import { CUT_SHORT, Deadline, poll } from '../../lib/wait.ts';
import type { Cloud } from '../../openstack/cloud.ts';
import type { Compute, Flavor, Server } from '../../openstack/compute.ts';
import { AmbiguousError, NotFoundError, refusedBeforeActing, statusOf } from '../../openstack/errors.ts';
import type { VolumeService } from '../../openstack/volume.ts';
import type { VerifyPlan, VerifySettings } from '../../settings/verify.ts';
import { Cancellation } from '../cancel.ts';
import { forSelection, type FleetResult } from '../fleet.ts';
import { asFailure, StepError, type Outcome } from '../outcome.ts';
import { chooseSnapshot } from '../restore/choose.ts';
import { isInstanceSnapshot, MARKS, type Marked } from '../snapshots.ts';
import { noteVolumes, removeThrowaway, sweep, throwawayMarks, throwawayName, volumesOf, type Throwaway } from './throwaway.ts';

/** What one verify did: the snapshot, the throwaway booted from it, and how it went. */
export interface VerifyResult {
  mode: 'verify';
  /** Nothing was sent that changes the cloud: nothing was booted. */
  dryRun: boolean;
  /** The instance whose snapshot it is. */
  server: Server;
  image: { id: string; name: string | null; volumeBacked: boolean };
  flavor?: Flavor;
  /** The throwaway server (deleted again). */
  throwawayId?: string;
  result: 'passed' | 'failed' | 'dry-run';
  /** From the create request to ACTIVE. */
  bootMs?: number;
  /** verify-console: whether it appeared in the console log; undefined when not asked. */
  consoleMatched?: boolean;
  /** The volumes Nova made for the throwaway (volume-backed snapshots), deleted with it. */
  volumeIds: string[];
  /** What earlier verifies of the instance had left, removed first. */
  swept: string[];
  /** From the create request to the deletion of everything confirmed. */
  durationMs: number;
}

/** The time the deletion of the throwaway and its volumes has, whatever the timeout (SIGINT/SIGTERM: until shortly before SIGKILL). */
const CLEANUP_MS = 5 * 60_000;
const PASSED = 'passed';

/** Every server of the selection: its snapshot (the one named, or its newest) booted on a throwaway server, then deleted. */
export async function verify(cloud: Cloud, settings: VerifySettings, cancel = new Cancellation()): Promise<Outcome<VerifyResult | FleetResult<VerifyResult>>> {
  const outcome = await forSelection(
    cloud,
    settings,
    'verify',
    async (server) => {
      try {
        return await verifyImage(cloud, settings, server, (await chooseSnapshot(cloud, settings, server, 'Verifying')).id, cancel);
      } catch (error) {
        return { failure: asFailure(error, settings) };
      }
    },
    cancel,
  );
  return cancel.cancelled && !outcome.failure ? { ...outcome, failure: cancel.error('while the snapshots were verified') } : outcome;
}

/** The flavor the throwaway boots with: verify-flavor, else the instance's; refused if the snapshot needs more. */
async function flavorFor(compute: Compute, plan: VerifyPlan, server: Server, image: Marked, volumeBacked: boolean): Promise<Flavor> {
  const ref = plan.flavor ?? server.flavorId;
  const whose = plan.flavor ? `${Input.VerifyFlavor}` : `the flavor of instance ${server.name}`;
  if (!ref) throw new StepError(`Instance ${server.name} (${server.id}) shows no flavor: give ${Input.VerifyFlavor}`);
  let flavor: Flavor;
  try {
    flavor = await compute.findFlavor(ref);
  } catch (error) {
    if (error instanceof NotFoundError)
      throw new StepError(
        plan.flavor
          ? `${Input.VerifyFlavor}: there is no flavor named or with ID "${ref}" in region ${plan.region} (openstack flavor list); nothing was booted`
          : `The flavor ${ref} of instance ${server.name} no longer exists: give ${Input.VerifyFlavor}; nothing was booted`,
      );
    if (error instanceof AmbiguousError)
      throw new StepError(
        `${Input.VerifyFlavor}: ${error.ids.length} flavors are named "${ref}" (${error.ids.join(', ')}): give the ID of one; nothing was booted`,
      );
    throw error;
  }
  const label = `${whose}, ${flavor.name} (${flavor.id})`;
  // A volume-backed snapshot boots from volumes Nova makes of its Cinder snapshots: the flavor's disk does not hold it.
  const needs = Math.max(image.minDisk, Math.ceil((image.size ?? 0) / 1024 ** 3));
  if (!volumeBacked && flavor.disk > 0 && needs > flavor.disk)
    throw new StepError(
      `Snapshot ${image.id} needs a ${needs} GiB root disk (its min_disk and size), more than the ${flavor.disk} GiB of ${label}: give ${Input.VerifyFlavor} a larger flavor; nothing was booted`,
    );
  if (image.minRam > flavor.ram)
    throw new StepError(
      `Snapshot ${image.id} needs ${image.minRam} MiB of memory (its min_ram), more than the ${flavor.ram} MiB of ${label}: give ${Input.VerifyFlavor} a larger flavor; nothing was booted`,
    );
  return flavor;
}

/** Nova's refusal of the create, in words that say what to change (nothing was made). */
function bootRefused(error: unknown, imageId: string): StepError {
  const status = statusOf(error);
  // The ApiError's message names the request first: Nova's own words are what follows.
  const said = (error instanceof Error ? error.message : String(error)).replace(/^.*? answered \d+: /, '');
  const hint =
    status === 403 && /quota/i.test(said)
      ? `the project's quota is reached (instances, cores, RAM or volumes): free some, or ask for more`
      : /network/i.test(said)
        ? `check ${Input.VerifyNetwork}`
        : /flavor/i.test(said)
          ? `check ${Input.VerifyFlavor}`
          : `see Nova's answer`;
  return new StepError(`Nova refused to boot a throwaway server from snapshot ${imageId} (${status}: ${said}): ${hint}. Nothing was made`, { cause: error });
}

/** Poll Nova until the throwaway is ACTIVE (or ERROR, or gone), noting the volumes it gets. */
async function untilBooted(compute: Compute, volumes: VolumeService | undefined, throwaway: Throwaway, imageId: string, deadline: Deadline): Promise<void> {
  const started = Date.now();
  let seen: Server | undefined;
  let lastState = '';
  const outcome = await poll(async () => {
    const look = await deadline.look((signal) => compute.getServer(throwaway.id, signal));
    if (look === CUT_SHORT) return { done: false, value: seen };
    if (!look) throw new StepError(`The throwaway server ${throwaway.id} of snapshot ${imageId} was deleted while it booted`);
    seen = look;
    await noteVolumes(volumes, throwaway, look);
    const state = `${look.status}${look.taskState ? ` (${look.taskState})` : ''}`;
    if (state !== lastState) log.info(t`[${formatDuration(Date.now() - started)}] throwaway server ${throwaway.id}: ${state}`);
    lastState = state;
    return { done: look.status === 'ACTIVE' || look.status === 'ERROR', value: look };
  }, deadline);
  if (deadline.cut?.aborted) return;
  if (!outcome.done)
    throw new StepError(
      `Timed out (timeout ${formatDuration(deadline.budgetMs)}) waiting for the throwaway server of snapshot ${imageId} to boot: it is still ${seen?.status ?? 'unseen'}${seen?.taskState ? ` with task_state ${seen.taskState}` : ''}`,
    );
  if (outcome.value?.status === 'ERROR')
    throw new StepError(
      `Snapshot ${imageId} did not boot: Nova put its throwaway server in ERROR${outcome.value.fault ? `: ${outcome.value.fault.replace(/\.$/, '')}` : ''}`,
    );
}

/** Poll the console log until the pattern appears in it: false at the deadline; a failure where the cloud serves no console log. */
async function untilConsole(compute: Compute, id: string, pattern: RegExp, deadline: Deadline): Promise<boolean> {
  const outcome = await poll(async () => {
    const look = await deadline.look((signal) => compute.consoleOutput(id, 200, signal));
    if (look === CUT_SHORT) return { done: false, value: false };
    if ('refused' in look) {
      if (look.refused === 409) return { done: false, value: false };
      throw new StepError(
        `${Input.VerifyConsole}: this cloud serves no console log (os-getConsoleOutput answered ${look.refused}), so the pattern cannot be checked; leave ${Input.VerifyConsole} out here`,
      );
    }
    return { done: pattern.test(look.output), value: true };
  }, deadline);
  return outcome.done;
}

/** The snapshot's verify as properties: how it went and when, and when it booted (only if it did). */
async function record(cloud: Cloud, image: Marked, passed: boolean): Promise<void> {
  const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const properties: Record<string, string> = {
    [Property.VerifyResult]: passed ? PASSED : 'failed',
    [Property.VerifyCheckedAt]: at,
    ...(passed ? { [Property.VerifiedAt]: at } : {}),
  };
  await (await cloud.images()).setProperties(image.id, properties);
  log.info(t`Snapshot ${image.id}: ${Property.VerifyResult}=${properties[Property.VerifyResult]}${passed ? t`, ${Property.VerifiedAt}=${at}` : ''}`);
}

/**
 * Boot a throwaway server from the snapshot (no network unless verify-network names one, no key,
 * no user data), wait until it is ACTIVE (and its console shows verify-console), then delete it
 * and the volumes Nova made for it and wait until they are gone: on success, failure, timeout and
 * cancel. What an earlier, killed verify of the instance left is removed first.
 */
export async function verifyImage(
  cloud: Cloud,
  plan: VerifyPlan,
  server: Server,
  imageId: string,
  cancel = new Cancellation(),
): Promise<Outcome<VerifyResult>> {
  const deadline = Deadline.after(plan.timeoutMs, cancel.signal);
  const compute = await cloud.compute();
  const images = await cloud.images();
  const projectId = await cloud.projectId();
  const image = await images.get(imageId, MARKS);
  if (!image) throw new StepError(`There is no snapshot ${imageId} in region ${plan.region}: nothing to verify`);
  const refuse = (why: string) => new StepError(`Snapshot ${image.id} "${image.name ?? ''}" is not verified: ${why}; nothing was booted`);
  if (image.status !== 'active') throw refuse(`it is ${image.status}, not active`);
  if (image.owner !== projectId) throw refuse(`it belongs to project ${image.owner ?? '(none)'}, not to this one (${projectId})`);
  if (!isInstanceSnapshot(image)) throw refuse('it is not an instance snapshot (no image_type=snapshot, not made by this action)');
  const volumeBacked = image.volumeSnapshotIds.length > 0 || image.bdmV2;
  const flavor = await flavorFor(compute, plan, server, image, volumeBacked);
  const volumes = await volumesOf(cloud);
  const result: VerifyResult = {
    mode: 'verify',
    dryRun: plan.dryRun,
    server,
    image: { id: image.id, name: image.name, volumeBacked },
    flavor,
    result: 'dry-run',
    volumeIds: [],
    swept: [],
    durationMs: 0,
  };
  result.swept = await sweep(
    compute,
    volumes,
    server,
    plan.provenance.runId,
    plan.timeoutMs + CLEANUP_MS,
    plan.dryRun,
    Deadline.after(CLEANUP_MS, cancel.signal),
  );
  const network = plan.networkId ? `network ${plan.networkId}` : 'no network';
  if (plan.dryRun) {
    log.info(
      t`Dry run: would boot a throwaway server from snapshot ${image.id}${volumeBacked ? ' (volume-backed)' : ''} with flavor ${flavor.name} (${flavor.id}) and ${network}, wait until it is ACTIVE${plan.console ? t`, look for ${plan.console.source} in its console log` : ''}, then delete it`,
    );
    return { result };
  }

  cancel.check(t`snapshot ${image.id} was booted`);
  const name = throwawayName(image.id);
  const marks = throwawayMarks(image.id, server.id, plan.provenance.runId);
  const done = cancel.owe(
    t`Throwaway server ${name} of snapshot ${image.id} may be left running: the next verify of instance ${server.name} removes it, or: openstack server delete ${name}`,
  );
  const started = Date.now();
  let throwaway: Throwaway;
  try {
    const id = await compute.createServer({
      name,
      imageRef: image.id,
      flavorRef: flavor.id,
      metadata: marks,
      ...(plan.networkId ? { networkId: plan.networkId } : {}),
    });
    throwaway = { id, volumeIds: new Set(), marks };
  } catch (error) {
    if (refusedBeforeActing(error)) {
      done();
      throw bootRefused(error, image.id);
    }
    // No clear answer: Nova may have made it. Found by this boot's own mark, it is removed as any other.
    const found = await findThrowaway(compute, name, marks);
    if (!found) {
      done();
      throw asFailure(error, plan);
    }
    throwaway = { id: found.id, volumeIds: new Set(), marks };
  }
  result.throwawayId = throwaway.id;
  log.info(t`Booting throwaway server ${throwaway.id} "${name}" from snapshot ${image.id} (flavor ${flavor.name}, ${network})`);
  let failure: StepError | undefined;
  try {
    await untilBooted(compute, volumes, throwaway, image.id, deadline);
    if (!cancel.cancelled) {
      result.bootMs = Date.now() - started;
      log.info(t`Snapshot ${image.id} booted: ACTIVE after ${formatDuration(result.bootMs)}`);
      if (plan.console) {
        result.consoleMatched = await untilConsole(compute, throwaway.id, plan.console, deadline);
        if (result.consoleMatched) log.info(t`The console log of throwaway server ${throwaway.id} shows ${plan.console.source}`);
        else if (!cancel.cancelled)
          failure = new StepError(
            `Snapshot ${image.id} booted, but ${plan.console.source} did not appear in the console log of its throwaway server within the ${Input.Timeout} of ${formatDuration(deadline.budgetMs)}`,
          );
      }
    }
  } catch (error) {
    failure = asFailure(error, plan);
  }
  // The throwaway goes, whatever happened: after a cancel, within what the runner leaves before SIGKILL.
  const left = await removeThrowaway(compute, volumes, throwaway, cancel.cancelled ? cancel.grace() : Deadline.after(CLEANUP_MS));
  result.volumeIds = [...throwaway.volumeIds];
  result.durationMs = Date.now() - started;
  if (!left) done();
  const leftText = left ? ` The throwaway was not all removed: ${left}; the next verify of instance ${server.name} removes it` : '';
  if (cancel.cancelled) {
    result.result = 'failed';
    return { result, failure: cancel.error(`while snapshot ${image.id} was verified: ${left ? leftText.trim() : 'its throwaway server was removed'}`) };
  }
  // A verdict on the snapshot: it booted (and showed the pattern) or not. A refusal of the cloud's is none.
  const passed = !failure;
  result.result = passed ? PASSED : 'failed';
  try {
    await record(cloud, image, passed);
  } catch (error) {
    const why = `the result could not be written on snapshot ${image.id}: ${asFailure(error, plan).message}`;
    failure ??= new StepError(`Snapshot ${image.id} booted, but ${why}`);
    if (failure.message.indexOf(why) < 0) log.warning(t`${why}`);
  }
  if (left) return { result, failure: new StepError(`${failure ? failure.message : `Snapshot ${image.id} booted.`}${leftText}`) };
  return failure ? { result, failure } : { result };
}

/** The throwaway this boot made, by its own mark, when Nova's answer to the create was lost. */
async function findThrowaway(compute: Compute, name: string, marks: Record<string, string>): Promise<Server | undefined> {
  for await (const server of compute.servers({ name })) if (server.metadata[Property.VerifyRequest] === marks[Property.VerifyRequest]) return server;
  return undefined;
}
