import type { Image, ImageService } from '../../openstack/image.ts';
import { PollGrid } from '../../lib/wait.ts';

/**
 * The one property a look at a new snapshot reads besides its status: Nova quiesces a running
 * guest whose image says it has the QEMU guest agent (create's consistency output).
 */
export const GUEST_AGENT = 'hw_qemu_guest_agent';
/** A new snapshot as a look sees it. */
export type Looked = Image<typeof GUEST_AGENT>;

/** How long a look waits for others to share its request: the waits of one grid wake within a few ms. */
const GATHER_MS = 10;

interface Waiter {
  resolve(image: Looked | undefined): void;
  reject(error: unknown): void;
}

/**
 * The looks at new images of a fleet: the waits poll on one grid, and the looks asked for at
 * about the same moment go to Glance as one listing (`id=in:…`) instead of one GET each.
 */
export class ImageLooks {
  readonly grid: PollGrid;
  readonly #images: ImageService;
  #pending = new Map<string, Waiter[]>();
  #timer: NodeJS.Timeout | undefined;

  constructor(images: ImageService, grid = new PollGrid()) {
    this.#images = images;
    this.grid = grid;
  }

  /** The image as Glance shows it now, or undefined once it is gone. */
  look(id: string): Promise<Looked | undefined> {
    return new Promise((resolve, reject) => {
      this.#pending.set(id, [...(this.#pending.get(id) ?? []), { resolve, reject }]);
      this.#timer ??= setTimeout(() => void this.#flush(), GATHER_MS);
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = new Map();
    this.#timer = undefined;
    try {
      const found = await this.#images.some([...batch.keys()], [GUEST_AGENT]);
      for (const [id, waiters] of batch) for (const waiter of waiters) waiter.resolve(found.get(id));
    } catch (error) {
      for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(error);
    }
  }
}
