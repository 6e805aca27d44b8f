import { log, t } from '../../lib/log.ts';
import type { Deadline } from '../../lib/wait.ts';
import type { Compute, Server } from '../../openstack/compute.ts';
import type { Image, ImageService } from '../../openstack/image.ts';
import { untilActive } from '../create/active.ts';
import { StepError } from '../outcome.ts';
import { ofServer } from './choose.ts';

/** A snapshot Nova is uploading (its disk captured). A queued one is not: its capture may never end. */
const UPLOADING = 'saving';

/**
 * This server's own snapshot, still uploading (a create with wait: captured whose job has not
 * ended): a roll-back may begin before the upload ends. Any other image that is not active is
 * left to restoreRefusal, which refuses it.
 */
export const stillUploading = (image: Image, server: Server, projectId: string) =>
  image.status === UPLOADING && image.instanceSnapshot && image.owner === projectId && ofServer(image, server);

/** Wait (within the restore's deadline) until this server's uploading snapshot is active: the image then, or a failure before any change. */
export async function untilUploaded(images: ImageService, compute: Compute, image: Image, server: Server, deadline: Deadline): Promise<Image> {
  log.info(t`Snapshot ${image.id} of instance ${server.name} is still ${image.status} (its upload runs): waiting until it is active before the rebuild`);
  const active = await untilActive(images, compute, server, image.id, deadline);
  if ('image' in active) return active.image;
  throw new StepError(
    `Snapshot ${image.id} was still uploading and did not become active, so instance ${server.name} was not rebuilt (nothing was changed): ${active.message}`,
  );
}
