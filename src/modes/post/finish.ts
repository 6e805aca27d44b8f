import pMap from 'p-map';
import { Input } from '../../lib/constants.ts';
import { formatDuration } from '../../lib/duration.ts';
import { log, t, within } from '../../lib/log.ts';
import { Deadline, PollGrid, promptPollDelay } from '../../lib/wait.ts';
import type { Cloud } from '../../openstack/cloud.ts';
import type { Compute, Server } from '../../openstack/compute.ts';
import type { ImageService } from '../../openstack/image.ts';
import type { CreateSettings } from '../../settings/create.ts';
import { untilActive } from '../create/active.ts';
import { pruneAfter } from '../create/create.ts';
import { ImageLooks } from '../create/looks.ts';
import { explain, StepError, type Outcome } from '../outcome.ts';
import type { PruneResult } from '../prune/prune.ts';
import type { Pending } from './pending.ts';

/** What became of one snapshot the main step left uploading. */
interface Upload {
  server: Server;
  image: { id: string; name: string | null; status: string; size: number | null };
  capturedAt: Date;
  /** When the post step saw it active. */
  uploadedAt?: Date;
  prune?: PruneResult;
  failure?: StepError;
}

export interface PostResult {
  mode: 'post';
  uploads: Upload[];
}

/** A server Nova no longer shows: known by its ID only. */
const goneServer = (id: string): Server => ({ id, name: id, status: 'DELETED', taskState: null, volumeBacked: false, volumeIds: [], metadata: {} });

/**
 * The post step's work: wait until every snapshot the main step left uploading is active (one
 * Glance listing per look for all of them, within upload-timeout), then the prune the main step
 * deferred, for each server. An upload that failed fails the step with Nova's reason.
 */
export async function finishUploads(cloud: Cloud, settings: CreateSettings, pending: readonly Pending[]): Promise<Outcome<PostResult>> {
  const compute = await cloud.compute();
  const images = await cloud.images();
  const deadline = Deadline.after(settings.uploadTimeoutMs ?? 0);
  const looks = new ImageLooks(images, new PollGrid(promptPollDelay));
  log.info(
    t`Waiting for ${pending.length} snapshot(s) left uploading by the main step (${Input.Wait}: captured) to be active, within ${formatDuration(deadline.budgetMs)} (${Input.UploadTimeout})`,
  );
  const uploads = await pMap(pending, async (p) => {
    const server = (await compute.getServer(p.serverId)) ?? goneServer(p.serverId);
    return within(server.name, () => finishOne(cloud, { compute, images }, settings, server, p, deadline, looks));
  });
  const failed = uploads.filter((u) => u.failure);
  const result: PostResult = { mode: 'post', uploads };
  if (!failed.length) return { result };
  return { result, failure: new StepError(failed.map((u) => u.failure?.message).join('; ')) };
}

async function finishOne(
  cloud: Cloud,
  { compute, images }: { compute: Compute; images: ImageService },
  settings: CreateSettings,
  server: Server,
  p: Pending,
  deadline: Deadline,
  looks: ImageLooks,
): Promise<Upload> {
  const capturedAt = new Date(p.capturedAt);
  const upload: Upload = { server, image: { id: p.imageId, name: null, status: 'unknown', size: null }, capturedAt };
  let image: Awaited<ReturnType<typeof untilActive>>['image'];
  try {
    ({ image } = await untilActive(images, compute, server, p.imageId, deadline, looks));
  } catch (error) {
    if (!(error instanceof StepError))
      return { ...upload, failure: new StepError(`Looking at snapshot ${p.imageId} failed: ${explain(error, settings)}`, { imageId: p.imageId }) };
    const seen = await images.get(p.imageId).catch(() => undefined);
    if (seen) upload.image = { id: seen.id, name: seen.name, status: seen.status, size: seen.size };
    else upload.image.status = 'gone';
    const message =
      `The upload of snapshot ${p.imageId} of instance ${server.name} (${server.id}) did not end active after the job went on (${Input.Wait}: captured): ${error.message}.` +
      `${await novaReason(compute, server)} This snapshot is no roll-back point: roll back from the one before it`;
    log.warning(t`${message}`);
    return { ...upload, failure: new StepError(message, { imageId: p.imageId }) };
  }
  Object.assign(upload, { image: { id: image.id, name: image.name, status: image.status, size: image.size }, uploadedAt: new Date() });
  log.info(
    t`Snapshot ${image.id} of instance ${server.name} is active: captured at ${capturedAt.toISOString()}, uploaded by ${upload.uploadedAt?.toISOString()} (${formatDuration(Date.now() - p.capturedAt)} after the capture), ${image.size ?? '?'} bytes`,
  );
  const { retention } = settings;
  if (!retention) return upload;
  try {
    const pruned = await pruneAfter(cloud, settings, retention, server, image.id);
    return { ...upload, prune: pruned.result, ...(pruned.failure ? { failure: pruned.failure } : {}) };
  } catch (error) {
    return { ...upload, failure: new StepError(`Snapshot ${image.id} is active, but the prune after it failed: ${explain(error, settings)}`) };
  }
}

/**
 * Nova's own account of the snapshot (the createImage instance action, its events with their
 * details where the microversion shows them) and the server's fault: a sentence, or '' when
 * Nova says nothing more (a look that fails adds nothing rather than hiding the failure).
 */
async function novaReason(compute: Compute, server: Server): Promise<string> {
  const fault = server.fault ? ` The instance's fault: ${server.fault}.` : '';
  try {
    const action = await compute.lastSnapshotAction(server.id);
    if (!action) return fault;
    // Below 2.51 a non-admin is shown no events: only the action's own message.
    if (!action.events.length)
      return ` Nova's record of createImage ${action.requestId} (microversion ${action.microversion}): ${action.message ?? 'no message'}.${fault}`;
    const failed = action.events.filter((event) => event.result && event.result !== 'Success');
    const events = (failed.length ? failed : action.events).map((e) => `${e.event} ${e.result ?? 'running'}${e.details ? `: ${e.details}` : ''}`).join(', ');
    const said = failed.length
      ? `Nova's reason (createImage ${action.requestId}, microversion ${action.microversion}): ${events}.`
      : `Nova recorded no error for createImage ${action.requestId}${events ? ` (${events})` : ''}: the image was deleted or its upload stopped outside Nova (in Glance).`;
    return ` ${said}${fault}`;
  } catch {
    return fault;
  }
}
