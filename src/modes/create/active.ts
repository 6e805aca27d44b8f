import { Input } from '../../lib/constants.ts';
import { formatDuration } from '../../lib/duration.ts';
import { log, t } from '../../lib/log.ts';
import type { Compute, Server } from '../../openstack/compute.ts';
import type { ImageService, ImageStatus } from '../../openstack/image.ts';
import { CUT_SHORT, poll, type Deadline } from '../../lib/wait.ts';
import { StepError } from '../outcome.ts';
import { GUEST_AGENT, type ImageLooks, type Looked } from './looks.ts';

/** Glance statuses from which an image never becomes active. */
export const DEAD = new Set<ImageStatus>(['killed', 'deleted', 'pending_delete', 'deactivated']);

/**
 * Poll Glance until the image is active (the image), or throw a failure that names the image and
 * says what became of it: dead or gone at once, or still on its way at the deadline, with how to check it.
 */
export async function untilActive(
  images: ImageService,
  compute: Compute,
  server: Server,
  imageId: string,
  deadline: Deadline,
  looks?: ImageLooks,
): Promise<{ image: Looked; polls: number }> {
  const started = Date.now();
  let lastStatus = '';
  let last: Looked | undefined;
  const outcome = await poll(
    async () => {
      // Glance's listing leaves killed images out: one it misses is looked at on its own.
      const look = await deadline.look(async (signal) =>
        looks ? ((await looks.look(imageId)) ?? images.get(imageId, [GUEST_AGENT], signal)) : images.get(imageId, [GUEST_AGENT], signal),
      );
      if (look === CUT_SHORT) return { done: false, value: last };
      last = look;
      const status = look?.status ?? 'gone';
      if (status !== lastStatus) {
        log.info(t`[${formatDuration(Date.now() - started)}] snapshot ${imageId}: ${status}`);
        lastStatus = status;
      }
      return { done: !look || look.status === 'active' || DEAD.has(look.status), value: look };
    },
    deadline,
    looks?.grid,
  );
  const image = outcome.done ? outcome.value : outcome.last;
  if (outcome.done && image?.status === 'active') return { image, polls: outcome.polls };
  if (outcome.done) {
    throw new StepError(
      image
        ? `The snapshot failed: snapshot ${imageId} is ${image.status}. Nothing will make it active; delete it (mode: delete, ${Input.SnapshotId}: ${imageId}) and try again`
        : `The snapshot failed: snapshot ${imageId} disappeared while it was being made (Nova deletes the image when the snapshot fails on the compute host; see the instance's fault with openstack server show ${server.id})`,
      { imageId },
    );
  }
  const now = await compute.getServer(server.id).catch(() => undefined);
  throw new StepError(
    `Timed out (timeout ${formatDuration(deadline.budgetMs)}) waiting for snapshot ${imageId} to become active, ${formatDuration(Date.now() - started)} after the snapshot was requested: it is still ${image?.status ?? (lastStatus || 'not seen (Glance did not answer in time)')}` +
      `${now ? `, and instance ${server.name} has task_state ${now.taskState ?? 'none'}` : ''}. ` +
      `The snapshot goes on in the cloud. Check it with: openstack image show ${imageId} -c status; ` +
      `or run this action again with a longer timeout. To give it up: mode delete with ${Input.SnapshotId} ${imageId}`,
    { imageId },
  );
}
