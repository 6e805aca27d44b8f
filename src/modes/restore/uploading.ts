import { log, t } from '../../lib/log.ts';
import type { Deadline } from '../../lib/wait.ts';
import type { Compute, Server } from '../../openstack/compute.ts';
import type { ImageService } from '../../openstack/image.ts';
import { untilActive } from '../create/active.ts';
import { StepError } from '../outcome.ts';
import { isInstanceSnapshot, type Marked } from '../snapshots.ts';
import { ofServer } from './choose.ts';

/** A snapshot Nova is uploading (its disk captured). A queued one is not: its capture may never end. */
const UPLOADING = 'saving';

/**
 * This server's own snapshot, still uploading (a create with wait: captured whose job has not
 * ended): a roll-back may begin before the upload ends. Any other image that is not active is
 * left to restoreRefusal, which refuses it.
 */
export const stillUploading = (image: Marked, server: Server, projectId: string) =>
  image.status === UPLOADING && isInstanceSnapshot(image) && image.owner === projectId && ofServer(image, server);

/** Wait (within the restore's deadline) until this server's uploading snapshot is active: the image then, or a failure before any change. */
export async function untilUploaded(images: ImageService, compute: Compute, image: Marked, server: Server, deadline: Deadline): Promise<Marked> {
  log.info(t`Snapshot ${image.id} of instance ${server.name} is still ${image.status} (its upload runs): waiting until it is active before the rebuild`);
  try {
    // Its status and size as they are now; its marks as chosen (the upload changes none of them).
    const { image: active } = await untilActive(images, compute, server, image.id, deadline);
    return { ...active, properties: image.properties };
  } catch (error) {
    if (!(error instanceof StepError)) throw error;
    throw new StepError(
      `Snapshot ${image.id} was still uploading and did not become active, so instance ${server.name} was not rebuilt (nothing was changed): ${error.message}`,
    );
  }
}
