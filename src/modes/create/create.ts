import { randomUUID } from 'node:crypto';
import { Cancellation, Cancelled } from '../cancel.ts';
import { Input, MANAGED_BY, Property, WAIT_CAPTURED } from '../../lib/constants.ts';
import { stepProperties } from '../../lib/step-key.ts';
import { formatDuration } from '../../lib/duration.ts';
import { log, t } from '../../lib/log.ts';
import { renderFitted, renderName, templateGlob } from '../../lib/name-template.ts';
import type { Cloud } from '../../openstack/cloud.ts';
import type { Server } from '../../openstack/compute.ts';
import { Deadline } from '../../lib/wait.ts';
import { provenanceProperties } from '../../lib/provenance.ts';
import type { CreateSettings, SnapshotPlan } from '../../settings/create.ts';
import type { Retention } from '../../settings/inputs.ts';
import { untilActive } from './active.ts';
import { createImageOnce, type ImageRequest } from './create-image.ts';
import { GUEST_AGENT, ImageLooks, type Looked } from './looks.ts';
import { untilCaptured } from './captured.ts';
import { earlierAttempt } from './rerun.ts';
import { ServerLooks } from './server-looks.ts';
import { busy, SNAPSHOT, untilFree } from '../server-wait.ts';
import { forSelection, type FleetResult } from '../fleet.ts';
import { RESTART_MS, startAgain, startWhenCaptured, stopForSnapshot, type Restart } from './stopped.ts';
import { asFailure, explain, StepError, type Outcome } from '../outcome.ts';
import { prune, type PruneResult } from '../prune/prune.ts';
import { verifyImage, type VerifyResult } from '../verify/verify.ts';
import { checkTargets, copySnapshot } from '../copy/copy.ts';
import { copyRefusal, type CopyRecord } from '../copy/copy-image.ts';
import type { CopyPlan } from '../../settings/copy.ts';
import type { Image } from '../../openstack/image.ts';

export interface CreateResult {
  mode: 'create';
  /** Nothing was sent: `image` is what would have been made (no ID). */
  dryRun: boolean;
  server: Server;
  image: { id: string; name: string; status: string; size: number | null };
  volumeSnapshotIds: string[];
  /** From the createImage request to the end of the wait. */
  durationMs: number;
  polls: number;
  /** How consistent the disk was when captured. */
  consistency: Consistency;
  /** How long the server was stopped for it (stop-instance). */
  downtimeMs?: number;
  prune?: PruneResult;
  /** wait: captured: when the disk was seen captured. */
  capturedAt?: Date;
  /** wait: captured: the image was still uploading when the step returned; the post step waits for it (and prunes). */
  uploading?: boolean;
  /** Taken by an earlier attempt of this step (a re-run), not taken again. */
  reused?: boolean;
  /** verify: true: the new snapshot booted on a throwaway server. */
  verify?: VerifyResult;
  /** copy-to-region: its copies in other regions (planned, in a dry run). */
  copies?: CopyRecord[];
}

type Consistency = 'stopped' | 'quiesced' | 'crash-consistent';

/** The snapshot's name (from the template) and properties: the action's marks, the instance, provenance and a request ID. */
function imageRequest(settings: SnapshotPlan, server: Server): ImageRequest {
  const p = settings.provenance;
  const values = {
    instance: server.name,
    instance_id: server.id,
    region: settings.region,
    now: new Date(),
    sha: p.sha,
    run_id: p.runId,
    run_attempt: p.runAttempt,
    repo: p.repository,
    ref_name: p.refName,
  };
  // Glance takes 255 characters: the action's own template is made to fit, the user's is refused (before any change).
  const name = settings.fitName ? renderFitted(settings.template, values, 255) : renderName(settings.template, values);
  if (!name || name.length > 255)
    throw new StepError(`${Input.SnapshotName}: the template "${settings.template}" gives "${name}", which is not 1 to 255 characters`);
  const metadata = {
    ...settings.metadata,
    ...provenanceProperties(p),
    [Property.ManagedBy]: MANAGED_BY,
    // Nova records the instance only on image-backed snapshots: these find volume-backed ones too.
    [Property.InstanceId]: server.id,
    [Property.InstanceName]: server.name.slice(0, 255),
    [Property.RequestId]: randomUUID(),
    ...(settings.step ? stepProperties(settings.step) : {}),
  };
  return { server, name, metadata };
}

/**
 * Every server of the selection, each snapshotted on its own; one server named once is a step of
 * its own. Once the job is cancelled, no server is begun.
 */
export async function create(cloud: Cloud, settings: CreateSettings, cancel = new Cancellation()): Promise<Outcome<CreateResult | FleetResult<CreateResult>>> {
  // copy-to-region: the regions are checked against the catalog before any snapshot is taken.
  if (settings.copy) await checkTargets(cloud, settings.copy);
  // A fleet's images are watched together: one listing per look instead of one GET per image.
  const looks = new ImageLooks(await cloud.images());
  // Their servers too, while the disks are captured: one server listing per look.
  const serverLooks = new ServerLooks(await cloud.compute());
  const outcome = await forSelection(
    cloud,
    settings,
    'create',
    async (server, inFleet) => {
      if (settings.copy && server.volumeBacked) throw volumeBackedCopy(server);
      const outcome = await snapshotServer(cloud, settings, server, inFleet ? looks : undefined, cancel, inFleet ? serverLooks : undefined);
      return settings.copy ? thenCopy(cloud, settings, settings.copy, outcome, cancel) : outcome;
    },
    cancel,
  );
  // A cancelled job fails, even when what was under way could end.
  return cancel.cancelled && !outcome.failure
    ? { ...outcome, failure: cancel.error('after the snapshots were taken: they stand, but a cancelled job fails') }
    : outcome;
}

/** A volume-backed snapshot holds no data to copy: refused before the server is snapshotted. */
const volumeBackedCopy = (server: Server) =>
  new StepError(
    `${Input.CopyToRegion}: instance ${server.name} (${server.id}) is volume-backed: its snapshot holds no image data (the disks are Cinder snapshots, which stay in their region), so it cannot be copied to another region. It was not snapshotted; leave ${Input.CopyToRegion} out for it, or copy its volumes with Cinder backups`,
  );

/** copy-to-region: once the snapshot is active, its copies (planned, in a dry run); the step fails for a copy that fails. */
async function thenCopy(
  cloud: Cloud,
  settings: CreateSettings,
  plan: CopyPlan,
  outcome: Outcome<CreateResult>,
  cancel: Cancellation,
): Promise<Outcome<CreateResult>> {
  const { result } = outcome;
  if (!result || (!result.dryRun && result.image.status !== 'active')) return outcome;
  let source: Image<string> | undefined;
  if (result.dryRun) {
    // What the new snapshot would be: its marks, for the plan of the copies and their prune.
    source = {
      id: '',
      name: result.image.name,
      status: 'active',
      createdAt: new Date(),
      size: null,
      minDisk: 0,
      minRam: 0,
      protected: false,
      owner: await cloud.projectId(),
      imageType: 'snapshot',
      instanceUuid: result.server.id,
      bdmV2: false,
      volumeSnapshotIds: [],
      properties: { [Property.ManagedBy]: MANAGED_BY, [Property.InstanceId]: result.server.id },
    };
  } else {
    source = await (await cloud.images()).getAll(result.image.id);
    const why = source ? copyRefusal(source, await cloud.projectId()) : 'it is no longer in Glance';
    if (!source || why) {
      const failure = new StepError(`Snapshot ${result.image.id} is active, but it is not copied: ${why}`, { imageId: result.image.id });
      return { result, failure: outcome.failure ?? failure };
    }
  }
  const copied = await copySnapshot(cloud, plan, source, settings.dryRun, cancel);
  result.copies = copied.result ?? [];
  const failures = [
    outcome.failure?.message,
    copied.failure && `Snapshot ${result.image.id || result.image.name} was taken, but ${copied.failure.message}`,
  ].filter(Boolean);
  return failures.length ? { result, failure: new StepError(failures.join('. '), { imageId: result.image.id || undefined }) } : { result };
}

/**
 * How far the snapshot can be trusted: taken of a stopped disk (SHUTOFF, or stopped for it), with
 * the guest's filesystems frozen by Nova, or as a crash would leave it. Nova quiesces only a
 * running guest: a PAUSED or SUSPENDED one is taken as it stands, crash-consistent.
 */
function consistencyOf(server: Server, stopped: boolean, image: Looked | undefined): Consistency {
  if (stopped || server.status === 'SHUTOFF') return 'stopped';
  if (server.status !== 'ACTIVE') return 'crash-consistent';
  return /^(yes|true)$/i.test(String(image?.properties[GUEST_AGENT] ?? '')) ? 'quiesced' : 'crash-consistent';
}

/**
 * A token login cannot renew its token: a server stopped with one that expires before the
 * deadline (and the time to start it again) could be left down. Refused before it is stopped.
 */
async function refuseShortToken(cloud: Cloud, settings: SnapshotPlan, server: Server, deadline: Deadline): Promise<void> {
  if (settings.credentials.method !== 'token') return;
  const { expiresAt } = await cloud.identity.token();
  if (expiresAt.getTime() >= deadline.at + RESTART_MS) return;
  throw new StepError(
    `${Input.StopInstance}: the token expires at ${expiresAt.toISOString()}, before the ${Input.Timeout} of ${formatDuration(deadline.budgetMs)} (and a minute to start the instance again) is over, ` +
      `and a token login cannot renew it: instance ${server.name} was not stopped, nor snapshotted. Log in with an application credential (${Input.ApplicationCredentialId}, ${Input.ApplicationCredentialSecret}) ` +
      `or a password, which are renewed; or give a token that lives longer, or a shorter ${Input.Timeout}`,
  );
}

/**
 * Snapshot one server: wait until it can be, (stop it,) request the image at most once, (start it
 * as soon as its disk is captured,) wait until the image is active, then prune its snapshots.
 */
export async function snapshotServer(
  cloud: Cloud,
  settings: SnapshotPlan,
  found: Server,
  looks?: ImageLooks,
  cancel = new Cancellation(),
  serverLooks?: ServerLooks,
): Promise<Outcome<CreateResult>> {
  // Every wait of the snapshot ends at the cancel; starting the server again has its own time.
  const deadline = Deadline.after(settings.timeoutMs, cancel.signal);
  const compute = await cloud.compute();
  const images = await cloud.images();
  let server = found;
  log.info(t`Instance: ${server.name} (${server.id}), ${server.status}${server.volumeBacked ? ', volume-backed' : ''}, region ${settings.region}`);
  // A dry run waits for nothing: it says what it would wait for.
  if (!settings.dryRun || !busy(server)) server = await untilFree(compute, server, SNAPSHOT, deadline).catch(cutShort(cancel, server));
  const request = imageRequest(settings, server);
  if (settings.dryRun) return dryRun(cloud, settings, request);

  // A re-run of this step takes the snapshot its first attempt took: the server may be half-deployed since.
  const earlier = settings.step ? await earlierAttempt(images, server, settings.step, await cloud.projectId()) : undefined;
  const stops = settings.stopInstance && !earlier;
  if (stops && server.status === 'ACTIVE') await refuseShortToken(cloud, settings, server, deadline);
  const stopped = stops ? await stopForSnapshot(compute, server, deadline, cancel) : undefined;
  const started = Date.now();
  let imageId: string;
  try {
    cancel.check(t`the snapshot of instance ${server.name} was requested`);
    imageId =
      earlier?.id ?? (await createImageOnce(compute, images, { ...request, server: stopped?.server ?? server }, deadline).catch(cutShort(cancel, server)));
  } catch (error) {
    if (stopped) await startAgain(compute, stopped, cancel);
    throw error;
  }
  const name = earlier?.name ?? request.name;
  if (!earlier) log.info(t`Snapshot requested: ${imageId} "${name}" (Nova microversion ${compute.microversion})`);
  if (settings.captured && stopped) {
    log.info(
      t`${Input.StopInstance} with ${Input.Wait}: ${WAIT_CAPTURED}: Nova refuses os-start until the snapshot's task ends, after the upload, so instance ${server.name} stays down until then and the step waits for active`,
    );
  }
  // From here on, whatever happens, the outcome names the image.
  const restart: Restart | undefined = stopped ? await startWhenCaptured(compute, stopped, deadline, cancel) : undefined;
  const down = restart && 'problem' in restart ? restart.problem : undefined;
  /** A failure about the image, and about the server if it was not seen running again. */
  const fail = (message: string) => ({ failure: new StepError(down ? `${message.replace(/\.?$/, '.')} ${down}` : message, { imageId }) });
  const cancelled = () =>
    fail(
      cancel.error(
        t`after snapshot ${imageId} of instance ${server.name} was requested: it goes on in the cloud; check it with: openstack image show ${imageId} -c status`,
      ).message,
    );
  if (cancel.cancelled) return cancelled();
  let image: Looked | undefined;
  let polls = 1;
  let capturedAt: Date | undefined;
  try {
    if (settings.captured && !stopped) {
      ({ image, polls, capturedAt } = await untilCaptured(
        compute,
        images,
        server,
        imageId,
        deadline,
        looks && serverLooks ? { servers: serverLooks, images: looks } : undefined,
      ));
      if (cancel.cancelled) return cancelled();
    } else if (settings.wait) {
      ({ image, polls } = await untilActive(images, compute, server, imageId, deadline, looks));
      if (cancel.cancelled) return cancelled();
    } else image = await images.get(imageId, [GUEST_AGENT]);
  } catch (error) {
    // What became of the image (dead, gone, still on its way), unless the cancel cut the wait short.
    if (error instanceof StepError) return cancel.cancelled ? cancelled() : fail(error.message);
    const why = explain(error, settings);
    return fail(
      `Snapshot ${imageId} was requested, but looking at it failed: ${why}. It may still become active; check it with: openstack image show ${imageId} -c status`,
    );
  }
  const result: CreateResult = {
    mode: 'create',
    dryRun: false,
    server,
    image: { id: imageId, name, status: image?.status ?? 'unknown', size: image?.size ?? null },
    volumeSnapshotIds: image?.volumeSnapshotIds ?? [],
    durationMs: Date.now() - started,
    polls,
    consistency: consistencyOf(server, !!stopped, image),
    ...(restart && 'downtimeMs' in restart ? { downtimeMs: restart.downtimeMs } : {}),
    ...(capturedAt ? { capturedAt, uploading: image?.status !== 'active' } : {}),
    ...(earlier ? { reused: true } : {}),
  };
  // The snapshot stands, but the server it was taken of may not run again: the step fails for it.
  if (down) return { result, failure: new StepError(down, { imageId }) };
  const { retention } = settings;
  if (result.uploading) {
    log.info(
      t`Disk of instance ${server.name} captured at ${capturedAt?.toISOString()}; snapshot ${imageId} is ${result.image.status}: the job goes on while it uploads, and the post step waits until it is active${retention ? ' before the prune after it' : ''}`,
    );
    return { result };
  }
  if (settings.verify) {
    const verified: Outcome<VerifyResult> = await verifyImage(cloud, { ...settings, ...settings.verify }, server, imageId, cancel).catch((error: unknown) => ({
      failure: asFailure(error, settings),
    }));
    if (verified.result) result.verify = verified.result;
    if (verified.failure) {
      const skipped = retention ? '; the prune after it was not run, so no older snapshot was deleted for it' : '';
      return { result, failure: new StepError(`Snapshot ${imageId} is active, but its verify failed: ${verified.failure.message}${skipped}`, { imageId }) };
    }
  }
  if (!retention) return { result };
  // Only after the snapshot is active (untilActive threw otherwise).
  try {
    return withPrune(result, await pruneAfter(cloud, settings, retention, server, imageId));
  } catch (error) {
    // The snapshot stands: its outputs are still written, and the step fails for the prune.
    return { result, failure: new StepError(`Snapshot ${imageId} is active, but the prune after it failed: ${explain(error, settings)}`) };
  }
}

/** A wait cut short by the cancel fails for it, not for a timeout. */
function cutShort(cancel: Cancellation, server: Server): (error: unknown) => never {
  return (error) => {
    throw cancel.cancelled && !(error instanceof Cancelled) ? cancel.error(t`before instance ${server.name} was snapshotted`) : error;
  };
}

/** The create's outcome with its prune's: the step fails when the prune does. */
function withPrune(result: CreateResult, pruned: Outcome<PruneResult>): Outcome<CreateResult> {
  return { result: { ...result, prune: pruned.result }, ...(pruned.failure ? { failure: pruned.failure } : {}) };
}

/** The prune after a create covers only what this template names, for this server. */
export function pruneAfter(cloud: Cloud, settings: SnapshotPlan, retention: Retention, server: Server, justCreated?: string): Promise<Outcome<PruneResult>> {
  const nameGlob = templateGlob(settings.template, { instance: server.name, instance_id: server.id, region: settings.region });
  // A backup restore took (snapshot-before) may match the glob: it is not the template's to count or delete.
  return prune(cloud, { retention, nameGlob, dryRun: settings.dryRun, server, justCreated, withoutBackups: true });
}

/** What a create would do, sending nothing: the server it would snapshot, the name, and the prune it would make. */
async function dryRun(cloud: Cloud, settings: SnapshotPlan, { server, name }: ImageRequest): Promise<Outcome<CreateResult>> {
  log.info(
    t`Dry run: would snapshot instance ${server.name} (${server.id}) as "${name}"${busy(server) ? t`, once it is no longer ${server.taskState ?? server.status}` : ''}`,
  );
  const stops = settings.stopInstance && server.status === 'ACTIVE';
  if (stops) log.info(t`Dry run: would stop instance ${server.name} first, and start it again once its disk is captured`);
  const consistency = stops || server.status === 'SHUTOFF' ? 'stopped' : 'crash-consistent';
  const result: CreateResult = {
    mode: 'create',
    dryRun: true,
    server,
    image: { id: '', name, status: 'dry-run', size: null },
    volumeSnapshotIds: [],
    durationMs: 0,
    polls: 0,
    consistency,
  };
  const { retention } = settings;
  if (!retention) return { result };
  // The real run also counts the new snapshot, so it may delete one more than this plan.
  log.info(t`Dry run: the prune after it, planned over the snapshots there are now`);
  return withPrune(result, await pruneAfter(cloud, settings, retention, server));
}
