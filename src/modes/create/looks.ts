import type { Image, ImageService } from '../../openstack/image.ts';
import { Batched } from '../../lib/batch.ts';
import { PollGrid } from '../../lib/wait.ts';

/**
 * The one property a look at a new snapshot reads besides its status: Nova quiesces a running
 * guest whose image says it has the QEMU guest agent (create's consistency output).
 */
export const GUEST_AGENT = 'hw_qemu_guest_agent';
/** A new snapshot as a look sees it. */
export type Looked = Image<typeof GUEST_AGENT>;

/**
 * The looks at new images of a fleet: the waits poll on one grid, and the looks asked for at
 * about the same moment go to Glance as one listing (`id=in:…`) instead of one GET each.
 */
export class ImageLooks {
  readonly grid: PollGrid;
  readonly #batch: Batched<Looked>;

  constructor(images: ImageService, grid = new PollGrid()) {
    this.grid = grid;
    this.#batch = new Batched((ids) => images.some(ids, [GUEST_AGENT]));
  }

  /** The image as Glance shows it now, or undefined once it is gone. */
  look(id: string): Promise<Looked | undefined> {
    return this.#batch.get(id);
  }
}
