import type { Compute, Server } from '../../openstack/compute.ts';
import { PollGrid, promptPollDelay } from '../../lib/wait.ts';

/** How long a look waits for others to share its request: the waits of one grid wake within a few ms. */
const GATHER_MS = 10;
/** How far before this run the listing reaches back: the cloud's clock may differ from the runner's. */
const CLOCK_SKEW_MS = 5 * 60_000;

interface Waiter {
  resolve(server: Server | undefined): void;
  reject(error: unknown): void;
}

/**
 * The looks at a fleet's servers while their disks are captured: the waits poll on one prompt
 * grid, and the looks asked for at about the same moment go to Nova as one listing of the servers
 * changed since the run began (`changes-since`: each snapshot request changes its server), instead
 * of one GET each. A server the listing misses is looked at on its own.
 */
export class ServerLooks {
  readonly grid = new PollGrid(promptPollDelay);
  readonly #compute: Compute;
  readonly #since = new Date(Date.now() - CLOCK_SKEW_MS).toISOString().replace(/\.\d+Z$/, 'Z');
  #pending = new Map<string, Waiter[]>();
  #timer: NodeJS.Timeout | undefined;

  constructor(compute: Compute) {
    this.#compute = compute;
  }

  /** The server as Nova shows it now, or undefined once it is gone. */
  look(id: string): Promise<Server | undefined> {
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
      const found = new Map<string, Server>();
      for await (const server of this.#compute.servers({ 'changes-since': this.#since })) if (batch.has(server.id)) found.set(server.id, server);
      for (const [id, waiters] of batch) {
        // Listed DELETED (changes-since shows deleted servers), or missed: gone, or looked at on its own.
        const server = found.get(id);
        const seen = server ? (server.status === 'DELETED' ? undefined : server) : await this.#compute.getServer(id);
        for (const waiter of waiters) waiter.resolve(seen);
      }
    } catch (error) {
      for (const waiters of batch.values()) for (const waiter of waiters) waiter.reject(error);
    }
  }
}
