import { randomUUID } from 'node:crypto';
import { Input, MANAGED_BY, Property } from '../constants.ts';
import { log, t } from '../log.ts';
import { renderFitted, renderName, templateGlob } from '../name-template.ts';
import type { Cloud } from '../openstack/cloud.ts';
import type { Server } from '../openstack/compute.ts';
import type { Image } from '../openstack/image.ts';
import { Deadline } from '../openstack/wait.ts';
import { provenanceProperties } from '../provenance.ts';
import type { CreateSettings, Retention } from '../settings.ts';
import { untilActive } from './create/active.ts';
import { createImageOnce, type ImageRequest } from './create/create-image.ts';
import { ImageLooks } from './create/looks.ts';
import { busy, SNAPSHOT, untilFree } from './ready.ts';
import { forSelection, type FleetResult } from './fleet.ts';
import { startAgain, startWhenCaptured, stopForSnapshot } from './create/stopped.ts';
import { explain, StepError, type Outcome } from './outcome.ts';
import { prune, type PruneResult } from './prune.ts';

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
  /** How long the server was stopped for it (stop-server). */
  downtimeMs?: number;
  prune?: PruneResult;
}

export type Consistency = 'stopped' | 'quiesced' | 'crash-consistent';

/** The snapshot's name (from the template) and properties: the action's marks, the instance, provenance and a request ID. */
function imageRequest(settings: CreateSettings, server: Server): ImageRequest {
  const p = settings.provenance;
  const values = { instance: server.name, instance_id: server.id, region: settings.region, now: new Date(), sha: p.sha, run_id: p.runId, run_attempt: p.runAttempt, repo: p.repository, ref_name: p.refName };
  // Glance takes 255 characters: the action's own template is made to fit, the user's is refused (before any change).
  const name = settings.fitName ? renderFitted(settings.template, values, 255) : renderName(settings.template, values);
  if (!name || name.length > 255) throw new StepError(`${Input.SnapshotName}: the template "${settings.template}" gives "${name}", which is not 1 to 255 characters`);
  const metadata = {
    ...settings.metadata,
    ...provenanceProperties(p),
    [Property.ManagedBy]: MANAGED_BY,
    // Nova records the instance only on image-backed snapshots: these find volume-backed ones too.
    [Property.InstanceId]: server.id,
    [Property.InstanceName]: server.name.slice(0, 255),
    [Property.RequestId]: randomUUID(),
  };
  return { server, name, metadata };
}

/** Every server of the selection, each snapshotted on its own; one server named once is a step of its own. */
export async function create(cloud: Cloud, settings: CreateSettings): Promise<Outcome<CreateResult | FleetResult>> {
  // A fleet's images are watched together: one listing per look instead of one GET per image.
  const looks = new ImageLooks(await cloud.images());
  return forSelection(cloud, settings, 'create', (server, inFleet) => snapshotServer(cloud, settings, server, inFleet ? looks : undefined));
}

/** How far the snapshot can be trusted: taken of a stopped disk, with the guest's filesystems frozen by Nova, or as a crash would leave it. */
function consistencyOf(wasRunning: boolean, image: Image | undefined): Consistency {
  if (!wasRunning) return 'stopped';
  return /^(yes|true)$/i.test(String(image?.properties.hw_qemu_guest_agent ?? '')) ? 'quiesced' : 'crash-consistent';
}

/**
 * Snapshot one server: wait until it can be, (stop it,) request the image at most once, (start it
 * as soon as its disk is captured,) wait until the image is active, then prune its snapshots.
 */
export async function snapshotServer(cloud: Cloud, settings: CreateSettings, found: Server, looks?: ImageLooks): Promise<Outcome<CreateResult>> {
  const deadline = Deadline.after(settings.timeoutMs);
  const compute = await cloud.compute();
  const images = await cloud.images();
  let server = found;
  log.info(t`Server: ${server.name} (${server.id}), ${server.status}${server.volumeBacked ? ', volume-backed' : ''}, region ${settings.region}`);
  // A dry run waits for nothing: it says what it would wait for.
  if (!settings.dryRun || !busy(server)) server = await untilFree(compute, server, SNAPSHOT, deadline);
  const request = imageRequest(settings, server);
  if (settings.dryRun) return dryRun(cloud, settings, request);

  const stopped = settings.stopServer ? await stopForSnapshot(compute, server, deadline) : undefined;
  const wasRunning = server.status === 'ACTIVE' && !stopped;
  let downtimeMs: number | undefined;
  const started = Date.now();
  let imageId: string;
  try {
    imageId = await createImageOnce(compute, images, { ...request, server: stopped?.server ?? server }, deadline);
    log.info(t`Snapshot requested: image ${imageId} "${request.name}" (Nova microversion ${compute.microversion})`);
    if (stopped) downtimeMs = await startWhenCaptured(compute, server, stopped.stoppedAt, deadline);
  } finally {
    if (stopped) await startAgain(compute, server, stopped.stoppedAt);
  }
  let image: Image | undefined;
  let polls = 1;
  try {
    if (settings.wait) {
      const active = await untilActive(images, compute, server, imageId, deadline, looks);
      if (!('image' in active)) return { failure: active };
      ({ image, polls } = active);
    } else image = await images.get(imageId);
  } catch (error) {
    const why = explain(error, settings);
    return { failure: { imageId, message: `Snapshot ${imageId} was requested, but looking at it failed: ${why}. It may still become active; check it with: openstack image show ${imageId} -c status` } };
  }
  const result: CreateResult = {
    mode: 'create',
    dryRun: false,
    server,
    image: { id: imageId, name: request.name, status: image?.status ?? 'unknown', size: image?.size ?? null },
    volumeSnapshotIds: image?.volumeSnapshotIds ?? [],
    durationMs: Date.now() - started,
    polls,
    consistency: consistencyOf(wasRunning, image),
    ...(downtimeMs !== undefined ? { downtimeMs } : {}),
  };
  const { retention } = settings;
  if (!retention) return { result };
  // Only after the snapshot is active (untilActive returned a failure otherwise).
  try {
    return withPrune(result, await pruneAfter(cloud, settings, retention, server, imageId));
  } catch (error) {
    // The snapshot stands: its outputs are still written, and the step fails for the prune.
    return { result, failure: { message: `Snapshot ${imageId} is active, but the prune after it failed: ${explain(error, settings)}` } };
  }
}

/** The create's outcome with its prune's: the step fails when the prune does. */
function withPrune(result: CreateResult, pruned: Outcome<PruneResult>): Outcome<CreateResult> {
  return { result: { ...result, prune: pruned.result }, ...(pruned.failure ? { failure: pruned.failure } : {}) };
}

/** The prune after a create covers only what this template names, for this server. */
function pruneAfter(cloud: Cloud, settings: CreateSettings, retention: Retention, server: Server, justCreated?: string): Promise<Outcome<PruneResult>> {
  const nameGlob = templateGlob(settings.template, { instance: server.name, instance_id: server.id, region: settings.region });
  // A backup restore took (snapshot-before) may match the glob: it is not the template's to count or delete.
  return prune(cloud, { ...settings, retention, nameGlob, server, justCreated, withoutBackups: true });
}

/** What a create would do, sending nothing: the server it would snapshot, the name, and the prune it would make. */
async function dryRun(cloud: Cloud, settings: CreateSettings, { server, name }: ImageRequest): Promise<Outcome<CreateResult>> {
  log.info(t`Dry run: would snapshot server ${server.name} (${server.id}) as "${name}"${busy(server) ? t`, once it is no longer ${server.taskState ?? server.status}` : ''}`);
  const stops = settings.stopServer && server.status === 'ACTIVE';
  if (stops) log.info(t`Dry run: would stop server ${server.name} first, and start it again once its disk is captured`);
  const consistency = stops || server.status !== 'ACTIVE' ? 'stopped' : 'crash-consistent';
  const result: CreateResult = { mode: 'create', dryRun: true, server, image: { id: '', name, status: 'dry-run', size: null }, volumeSnapshotIds: [], durationMs: 0, polls: 0, consistency };
  const { retention } = settings;
  if (!retention) return { result };
  // The real run also counts the new snapshot, so it may delete one more than this plan.
  log.info(t`Dry run: the prune after it, planned over the snapshots there are now`);
  return withPrune(result, await pruneAfter(cloud, settings, retention, server));
}
