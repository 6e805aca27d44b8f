import { Property } from '../../lib/constants.ts';
import { log, t } from '../../lib/log.ts';
import type { Compute, Server } from '../../openstack/compute.ts';
import { codeOf, ConflictError, CrossHostError, refusedBeforeActing, statusOf } from '../../openstack/errors.ts';
import type { Image, ImageService } from '../../openstack/image.ts';
import { Deadline, poll } from '../../lib/wait.ts';
import { busy, SNAPSHOT, untilFree } from '../server-wait.ts';

/** createImage attempts at most, each after proof (or a check) that no image was made. */
const MAX_CREATE_ATTEMPTS = 4;
/** How long an ambiguous createImage is given to show its image before it is sent again. */
const SETTLE_MS = 10_000;
const CREATE_REQUEST_TIMEOUT_MS = 180_000;

export interface ImageRequest {
  server: Server;
  name: string;
  /** Carries Property.RequestId, unique to this request: how an image it made is found. */
  metadata: Record<string, string>;
}

/**
 * createImage, at most one image however it fails. After an ambiguous failure (timeout, reset,
 * 5xx) the image list is searched for the request's ID before anything is sent again. A 409 for
 * a busy task_state is waited out and retried. Returns the new image's ID.
 */
export async function createImageOnce(compute: Compute, images: ImageService, request: ImageRequest, deadline: Deadline): Promise<string> {
  const requestId = request.metadata[Property.RequestId] ?? '';
  let server = request.server;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await compute.createImage(server.id, request.name, request.metadata, CREATE_REQUEST_TIMEOUT_MS);
    } catch (error) {
      if (attempt >= MAX_CREATE_ATTEMPTS || deadline.passed) throw error;
      if (error instanceof ConflictError) {
        log.info(t`Nova answered 409 (${error.message}); waiting for the instance to be free`);
        server = await untilFree(compute, server, SNAPSHOT, deadline, true);
        continue;
      }
      // A refused redirect was not sent on: nothing to look for, and sending again would be refused too.
      if (refusedBeforeActing(error) || error instanceof CrossHostError) throw error;
      log.warning(
        t`createImage failed without a clear answer (${codeOf(error) ?? statusOf(error) ?? (error as Error).message}); looking for the snapshot it may have made`,
      );
      const found = await settle(compute, images, server, requestId);
      if (found) {
        log.info(t`The snapshot was made after all: ${found.id}`);
        return found.id;
      }
      server = await untilFree(compute, server, SNAPSHOT, deadline, true);
    }
  }
}

/** After an ambiguous createImage: the image it made, if any, once the server is idle again or SETTLE_MS passed. */
async function settle(compute: Compute, images: ImageService, server: Server, requestId: string): Promise<Image | undefined> {
  const made = async () => (await images.listAll({ [Property.RequestId]: requestId }))[0];
  const outcome = await poll(async () => {
    const image = await made();
    if (image) return { done: true, value: image };
    const now = await compute.getServer(server.id);
    // Nova creates the image before it answers; an idle server with no image means nothing was done.
    return { done: !!now && !busy(now), value: undefined };
  }, Deadline.after(SETTLE_MS));
  return outcome.done ? outcome.value : made();
}
