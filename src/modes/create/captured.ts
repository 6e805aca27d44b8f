import { formatDuration } from '../../lib/duration.ts';
import { log, t } from '../../lib/log.ts';
import type { Compute, Server } from '../../openstack/compute.ts';
import type { ImageStatus } from '../../openstack/image.ts';
import { DEAD } from './active.ts';
import { CUT_SHORT, PollGrid, poll, promptPollDelay, type Deadline } from '../../lib/wait.ts';
import { StepError } from '../outcome.ts';
import { GUEST_AGENT, type ImageLooks, type Looked } from './looks.ts';
import type { ServerLooks } from './server-looks.ts';
import { CAPTURING } from './stopped.ts';

/** The disk is captured: from then on nothing written to the server reaches the snapshot. */
export interface Captured {
  /** When the run saw it captured (within one poll of it). */
  capturedAt: Date;
  /** The image then: `saving` while Nova uploads it, `active` when there was nothing to upload (Ceph, volume-backed). */
  image: Looked;
  polls: number;
}

/** Glance statuses that prove the disk was captured: its upload began (saving), or the snapshot is done (active). */
const PAST_CAPTURE = new Set<ImageStatus>(['saving', 'active']);

/**
 * Poll until the server's disk is captured. The signal is the server's task state (one request
 * per look, shared by a fleet) reaching `image_uploading`, confirmed: by one look at the image in
 * Glance, `saving` (the extracted disk is being uploaded) or `active`, or by the next look still
 * showing `image_uploading`. The libvirt driver also sets `image_uploading` for a moment (two
 * database writes) before it tries a direct (Ceph) snapshot, and goes back to
 * `image_pending_upload` when the backend cannot make one: one look alone could fall in that
 * moment. The task ending is the other end (the image is then looked at once). Throws a failure
 * that names the image when the disk is not captured.
 */
export async function untilCaptured(
  compute: Pick<Compute, 'getServer'>,
  images: { get(id: string, properties: readonly (typeof GUEST_AGENT)[], signal?: AbortSignal): Promise<Looked | undefined> },
  server: Server,
  imageId: string,
  deadline: Deadline,
  looks?: { servers: ServerLooks; images: ImageLooks },
): Promise<Captured> {
  const started = Date.now();
  let lastState: string | undefined;
  let image: Looked | undefined;
  let seen: Server | undefined = server;
  let uploadingBefore = false;
  const outcome = await poll(
    async () => {
      const look = await deadline.look((signal) => (looks ? looks.servers.look(server.id) : compute.getServer(server.id, signal)));
      if (look === CUT_SHORT) return { done: false, value: seen };
      seen = look;
      const state = look ? (look.taskState ?? 'none') : 'gone';
      if (state !== lastState) {
        log.info(t`[${formatDuration(Date.now() - started)}] instance ${server.name}: task_state ${state}`);
        lastState = state;
      }
      const uploading = look?.taskState === 'image_uploading';
      // Still image_uploading a look later: past the direct snapshot's moment.
      const confirmed = uploading && uploadingBefore;
      uploadingBefore = uploading;
      if (look && CAPTURING.has(look.taskState ?? '')) return { done: false, value: look };
      const imageLook = await deadline.look((signal) => (looks ? looks.images.look(imageId) : images.get(imageId, [GUEST_AGENT], signal)));
      if (imageLook === CUT_SHORT) return { done: false, value: look };
      image = imageLook;
      // image_uploading seen once with the image still queued: perhaps the direct snapshot's moment.
      return { done: !uploading || confirmed || !image || PAST_CAPTURE.has(image.status) || DEAD.has(image.status), value: look };
    },
    deadline,
    looks?.servers.grid ?? new PollGrid(promptPollDelay),
  );
  const capturedAt = new Date();
  if (!outcome.done) {
    throw new StepError(
      `Timed out waiting for the disk of instance ${server.name} (${server.id}) to be captured for snapshot ${imageId}: its task_state is still ${lastState ?? 'unknown'}` +
        `${image ? ` and the snapshot ${image.status}` : ''} after ${formatDuration(Date.now() - started)}. The snapshot goes on in the cloud; check it with: openstack image show ${imageId} -c status`,
      { imageId },
    );
  }
  if (outcome.done && !outcome.value)
    throw new StepError(`Instance ${server.name} (${server.id}) was deleted while its snapshot ${imageId} was being taken`, { imageId });
  if (!image || DEAD.has(image.status)) {
    throw new StepError(
      `The snapshot failed: snapshot ${imageId} is ${image?.status ?? 'gone'} once the task on instance ${server.name} (${server.id}) ended (see the instance's actions: openstack server event list ${server.id})`,
      { imageId },
    );
  }
  log.info(t`[${formatDuration(Date.now() - started)}] disk of instance ${server.name} captured: snapshot ${imageId} is ${image.status}`);
  return { capturedAt, image, polls: outcome.polls };
}
