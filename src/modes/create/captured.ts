import { formatDuration } from '../../lib/duration.ts';
import { log, t } from '../../lib/log.ts';
import type { Compute, Server } from '../../openstack/compute.ts';
import type { Image, ImageService } from '../../openstack/image.ts';
import { CUT_SHORT, PollGrid, poll, promptPollDelay, type Deadline } from '../../lib/wait.ts';
import type { Failure } from '../outcome.ts';
import { CAPTURING } from './stopped.ts';
import type { ServerLooks } from './server-looks.ts';

/** The disk is captured: from then on nothing written to the server reaches the snapshot. */
export interface Captured {
  /** When the run saw the task state leave the capture (within one poll of it). */
  capturedAt: Date;
  /** The image then: `saving` while Nova uploads it, `active` when there was nothing to upload (Ceph, volume-backed). */
  image: Image;
  polls: number;
}

/**
 * Poll Nova until the server's disk is captured: its task state reached `image_uploading` (the
 * libvirt driver has extracted the disk and resumed the guest), or the task ended. Then one look
 * at the image: a failure when it is already dead or gone.
 */
export async function untilCaptured(
  compute: Compute,
  images: ImageService,
  server: Server,
  imageId: string,
  deadline: Deadline,
  looks?: ServerLooks,
): Promise<Captured | Failure> {
  const started = Date.now();
  let lastState: string | undefined;
  let seen: Server | undefined = server;
  const outcome = await poll(
    async () => {
      const look = await deadline.look((signal) => (looks ? looks.look(server.id) : compute.getServer(server.id, signal)));
      if (look === CUT_SHORT) return { done: false, value: seen };
      seen = look;
      const state = look ? (look.taskState ?? 'none') : 'gone';
      if (state !== lastState) {
        log.info(t`[${formatDuration(Date.now() - started)}] instance ${server.name}: task_state ${state}`);
        lastState = state;
      }
      return { done: !look || !CAPTURING.has(look.taskState ?? ''), value: look };
    },
    deadline,
    looks?.grid ?? new PollGrid(promptPollDelay),
  );
  const capturedAt = new Date();
  if (!outcome.done) {
    return {
      imageId,
      message:
        `Timed out waiting for the disk of instance ${server.name} (${server.id}) to be captured for snapshot ${imageId}: its task_state is still ${lastState ?? 'unknown'} after ${formatDuration(Date.now() - started)}. ` +
        `The snapshot goes on in the cloud; check it with: openstack image show ${imageId} -c status`,
    };
  }
  if (!outcome.value) return { imageId, message: `Instance ${server.name} (${server.id}) was deleted while its snapshot ${imageId} was being taken` };
  const image = await images.get(imageId);
  if (!image || image.status === 'killed' || image.status === 'deleted' || image.status === 'pending_delete') {
    return {
      imageId,
      message: `The snapshot failed: snapshot ${imageId} is ${image?.status ?? 'gone'} once the task on instance ${server.name} (${server.id}) ended (see the instance's actions: openstack server event list ${server.id})`,
    };
  }
  return { capturedAt, image, polls: outcome.polls + 1 };
}
