import { randomUUID } from 'node:crypto';
import { MANAGED_BY, Property } from '../constants.ts';
import { log, t } from '../log.ts';
import { formatDuration } from '../duration.ts';
import { renderName, templateGlob } from '../name-template.ts';
import type { Cloud } from '../openstack/cloud.ts';
import type { Compute, Server } from '../openstack/compute.ts';
import { ActionError, codeOf, CrossHostError, statusOf } from '../openstack/errors.ts';
import type { Image, ImageService } from '../openstack/image.ts';
import { volumeSnapshotIds } from '../openstack/volume.ts';
import { poll, untilDeadline } from '../openstack/wait.ts';
import { provenanceProperties } from '../provenance.ts';
import type { CreateSettings, Retention } from '../settings.ts';
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
  prune?: PruneResult;
  /** The prune after the snapshot failed (the snapshot itself is active). */
  pruneError?: string;
}

/** Nova snapshots servers in these states (check_instance_state on API.snapshot). */
const SNAPSHOTTABLE = new Set(['ACTIVE', 'SHUTOFF', 'SUSPENDED', 'PAUSED']);
/** States a server leaves by itself: worth waiting for. */
const TRANSITIONAL = new Set(['BUILD', 'REBOOT', 'HARD_REBOOT', 'REBUILD', 'RESIZE', 'MIGRATING', 'PASSWORD']);
/** Glance statuses from which an image never becomes active. */
const DEAD = new Set(['killed', 'deleted', 'pending_delete', 'deactivated']);
/** createImage attempts at most, each after proof (or a check) that no image was made. */
const MAX_CREATE_ATTEMPTS = 4;
/** How long an ambiguous createImage is given to show its image before it is sent again. */
const SETTLE_MS = 10_000;
const CREATE_REQUEST_TIMEOUT_MS = 180_000;

const busy = (server: Server) => server.taskState !== null || TRANSITIONAL.has(server.status);

/**
 * Wait until Nova would accept a snapshot of the server, within the deadline. `server` is what
 * was last seen of it; with `stale`, Nova said otherwise since, so it is looked at again.
 */
async function untilSnapshottable(compute: Compute, server: Server, deadline: number, stale = false): Promise<Server> {
  if (!stale && !busy(server)) {
    if (SNAPSHOTTABLE.has(server.status)) return server;
    throw unsnapshottable(server);
  }
  if (!stale) log.info(t`Server ${server.name} is ${server.status}${server.taskState ? t` (task_state ${server.taskState})` : ''}: waiting until it can be snapshotted`);
  let seen = server;
  const outcome = await poll(async () => {
    const look = await beforeDeadline(compute.getServer(server.id, untilDeadline(deadline)), deadline);
    if (look === CUT_SHORT) return { done: false, value: seen };
    const current = look;
    if (!current) throw new ActionError(`Server ${server.name} (${server.id}) was deleted while waiting to snapshot it`);
    seen = current;
    return { done: !busy(current), value: current };
  }, deadline);
  const current = outcome.done ? outcome.value : seen;
  if (!outcome.done) {
    throw new ActionError(
      `Timed out waiting for server ${server.name} (${server.id}) to be free: it is still ${current.status}${current.taskState ? ` with task_state ${current.taskState}` : ''}. ` +
        `Another snapshot or operation is running; check it with: openstack server show ${server.id} -c status -c OS-EXT-STS:task_state`,
    );
  }
  if (!SNAPSHOTTABLE.has(current.status)) throw unsnapshottable(current);
  return current;
}

const unsnapshottable = (server: Server) =>
  new ActionError(`Server ${server.name} (${server.id}) is ${server.status}: Nova can snapshot a server that is ACTIVE, SHUTOFF, SUSPENDED or PAUSED`);

/** A look cut short by the deadline: no news, which is not the same as "gone". */
const CUT_SHORT = Symbol('cut short');

async function beforeDeadline<T>(look: Promise<T>, deadline: number): Promise<T | typeof CUT_SHORT> {
  try {
    return await look;
  } catch (error) {
    if (Date.now() >= deadline) return CUT_SHORT;
    throw error;
  }
}

/** The failure left no doubt that Nova never acted on the request. */
function notExecuted(error: unknown): boolean {
  const status = statusOf(error);
  return status !== undefined && status < 500 && status !== 408;
}

/** The images a createImage carrying this request ID made (normally none or one). */
async function imagesOfRequest(images: ImageService, requestId: string): Promise<Image[]> {
  return images.listAll({ [Property.RequestId]: requestId });
}

/**
 * createImage, at most one image however it fails. Each snapshot request carries a unique
 * property; after an ambiguous failure (timeout, reset, 5xx) the image list is searched for it
 * before anything is sent again. A 409 for a busy task_state is waited out and retried.
 */
async function createOnce(
  compute: Compute,
  images: ImageService,
  server: Server,
  name: string,
  metadata: Record<string, string>,
  deadline: number,
): Promise<string> {
  const requestId = metadata[Property.RequestId]!;
  let current = server;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await compute.createImage(current.id, name, metadata, CREATE_REQUEST_TIMEOUT_MS);
    } catch (error) {
      if (attempt >= MAX_CREATE_ATTEMPTS || Date.now() >= deadline) throw error;
      if (statusOf(error) === 409) {
        log.info(t`Nova answered 409 (${(error as Error).message}); waiting for the server to be free`);
        current = await untilSnapshottable(compute, current, deadline, true);
        continue;
      }
      // A refused redirect was not sent on: nothing to look for, and sending again would be refused too.
      if (notExecuted(error) || error instanceof CrossHostError) throw error;
      log.warning(t`createImage failed without a clear answer (${codeOf(error) ?? statusOf(error) ?? (error as Error).message}); looking for the image it may have made`);
      const found = await settle(compute, images, current, requestId);
      if (found) {
        log.info(t`The snapshot was made after all: image ${found.id}`);
        return found.id;
      }
      current = await untilSnapshottable(compute, current, deadline, true);
    }
  }
}

/** After an ambiguous createImage: the image it made, if any, once the server is idle again or SETTLE_MS passed. */
async function settle(compute: Compute, images: ImageService, server: Server, requestId: string): Promise<Image | undefined> {
  const outcome = await poll(async () => {
    const [made] = await imagesOfRequest(images, requestId);
    if (made) return { done: true, value: made };
    const now = await compute.getServer(server.id);
    // Nova creates the image before it answers; an idle server with no image means nothing was done.
    return { done: !!now && !busy(now), value: undefined };
  }, Date.now() + SETTLE_MS);
  return outcome.done ? outcome.value : (await imagesOfRequest(images, requestId))[0];
}

export async function create(cloud: Cloud, settings: CreateSettings): Promise<CreateResult> {
  const deadline = Date.now() + settings.timeoutMs;
  const compute = await cloud.compute();
  const images = await cloud.images();
  let server = await compute.findServer(settings.instance, settings.region);
  log.info(t`Server: ${server.name} (${server.id}), ${server.status}${server.volumeBacked ? ', volume-backed' : ''}, region ${settings.region}`);
  // A dry run waits for nothing: it says what it would wait for.
  if (!settings.dryRun || !busy(server)) server = await untilSnapshottable(compute, server, deadline);

  const template = settings.template;
  const p = settings.provenance;
  const name = renderName(template, {
    instance: server.name,
    instance_id: server.id,
    region: settings.region,
    now: new Date(),
    sha: p.sha,
    run_id: p.runId,
    run_attempt: p.runAttempt,
    repo: p.repository,
    ref_name: p.refName,
  });
  if (!name || name.length > 255) throw new ActionError(`snapshot-name: the template "${template}" gives "${name}", which is not 1 to 255 characters`);
  const metadata = {
    ...settings.metadata,
    ...provenanceProperties(p),
    [Property.ManagedBy]: MANAGED_BY,
    // Nova records the instance only on image-backed snapshots: these find volume-backed ones too.
    [Property.InstanceId]: server.id,
    [Property.InstanceName]: server.name.slice(0, 255),
    [Property.RequestId]: randomUUID(),
  };

  if (settings.dryRun) return dryRun(cloud, settings, server, name);
  const started = Date.now();
  const imageId = await createOnce(compute, images, server, name, metadata, deadline);
  log.info(t`Snapshot requested: image ${imageId} "${name}" (Nova microversion ${compute.microversion})`);

  let image: Image | undefined;
  let polls = 1;
  try {
    if (settings.wait) ({ image, polls } = await untilActive(images, compute, server, imageId, started, deadline, settings.timeoutMs));
    else image = await images.get(imageId);
  } catch (error) {
    if (error instanceof SnapshotError) throw error;
    throw new SnapshotError(
      `Snapshot ${imageId} was requested, but looking at it failed: ${(error as Error).message}. It may still become active; check it with: openstack image show ${imageId} -c status`,
      imageId,
    );
  }
  const result: CreateResult = {
    mode: 'create',
    dryRun: false,
    server,
    image: { id: imageId, name, status: image?.status ?? 'unknown', size: image?.size ?? null },
    volumeSnapshotIds: image ? volumeSnapshotIds(image) : [],
    durationMs: Date.now() - started,
    polls,
  };
  if (settings.retention) {
    // Only after the snapshot is active (untilActive threw otherwise).
    try {
      result.prune = await pruneAfter(cloud, settings, settings.retention, server, imageId);
    } catch (error) {
      // The snapshot stands: its outputs are still written, and the step fails for the prune.
      result.pruneError = (error as Error).message;
    }
  }
  return result;
}

/** The prune after a create covers only what this template names, for this server. */
function pruneAfter(cloud: Cloud, settings: CreateSettings, retention: Retention, server: Server, justCreated?: string): Promise<PruneResult> {
  const nameGlob = templateGlob(settings.template, { instance: server.name, instance_id: server.id, region: settings.region });
  return prune(cloud, { ...settings, retention, nameGlob, server, justCreated });
}

/** What a create would do, sending nothing: the server it would snapshot, the name, and the prune it would make. */
async function dryRun(cloud: Cloud, settings: CreateSettings, server: Server, name: string): Promise<CreateResult> {
  log.info(t`Dry run: would snapshot server ${server.name} (${server.id}) as "${name}"${busy(server) ? t`, once it is no longer ${server.taskState ?? server.status}` : ''}`);
  const result: CreateResult = { mode: 'create', dryRun: true, server, image: { id: '', name, status: 'dry-run', size: null }, volumeSnapshotIds: [], durationMs: 0, polls: 0 };
  if (settings.retention) {
    // The real run also counts the new snapshot, so it may delete one more than this plan.
    log.info(t`Dry run: the prune after it, planned over the snapshots there are now`);
    result.prune = await pruneAfter(cloud, settings, settings.retention, server);
  }
  return result;
}

/** Poll Glance until the image is active; fail at once when it can no longer become so. */
async function untilActive(
  images: ImageService,
  compute: Compute,
  server: Server,
  imageId: string,
  started: number,
  deadline: number,
  timeoutMs: number,
): Promise<{ image: Image; polls: number }> {
  let lastStatus = '';
  let last: Image | undefined;
  const outcome = await poll(
    async () => {
      const look = await beforeDeadline(images.get(imageId, untilDeadline(deadline)), deadline);
      if (look === CUT_SHORT) return { done: false, value: last };
      const image = look;
      last = image;
      const status = image?.status ?? 'gone';
      if (status !== lastStatus) {
        log.info(t`[${formatDuration(Date.now() - started)}] image ${imageId}: ${status}`);
        lastStatus = status;
      }
      return { done: !image || image.status === 'active' || DEAD.has(image.status), value: image };
    },
    deadline,
    started,
  );
  const image = outcome.done ? outcome.value : outcome.last;
  if (outcome.done && image?.status === 'active') return { image, polls: outcome.polls };
  if (outcome.done) {
    throw new SnapshotError(
      image
        ? `The snapshot failed: image ${imageId} is ${image.status}. Nothing will make it active; delete it (mode: delete, image-id: ${imageId}) and try again`
        : `The snapshot failed: image ${imageId} disappeared while it was being made (Nova deletes the image when the snapshot fails on the compute host; see the server's fault with openstack server show ${server.id})`,
      imageId,
    );
  }
  const now = await compute.getServer(server.id).catch(() => undefined);
  throw new SnapshotError(
    `Timed out (timeout ${formatDuration(timeoutMs)}) waiting for image ${imageId} to become active, ${formatDuration(Date.now() - started)} after the snapshot was requested: it is still ${image?.status ?? (lastStatus || 'not seen (Glance did not answer in time)')}` +
      `${now ? `, and server ${server.name} has task_state ${now.taskState ?? 'none'}` : ''}. ` +
      `The snapshot goes on in the cloud. Check it with: openstack image show ${imageId} -c status; ` +
      `or run this action again with a longer timeout. To give it up: mode delete with image-id ${imageId}`,
    imageId,
  );
}

/** The snapshot was requested but did not become active: later steps still get its image ID. */
export class SnapshotError extends ActionError {
  readonly imageId: string;
  constructor(message: string, imageId: string) {
    super(message);
    this.imageId = imageId;
  }
}
