import type { Compute, Server } from '../../openstack/compute.ts';
import { Batched } from '../../lib/batch.ts';
import { PollGrid, promptPollDelay } from '../../lib/wait.ts';

/** How far before this run the listing reaches back: the cloud's clock may differ from the runner's. */
const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * The looks at a fleet's servers while their disks are captured: the waits poll on one prompt
 * grid, and the looks asked for at about the same moment go to Nova as one listing of the servers
 * changed since the run began (`changes-since`: each snapshot request changes its server), instead
 * of one GET each. A server the listing misses is looked at on its own.
 */
export class ServerLooks {
  readonly grid = new PollGrid(promptPollDelay);
  readonly #batch: Batched<Server>;

  constructor(compute: Compute) {
    const since = new Date(Date.now() - CLOCK_SKEW_MS).toISOString().replace(/\.\d+Z$/, 'Z');
    this.#batch = new Batched(async (ids) => {
      const listed = new Map<string, Server>();
      for await (const server of compute.servers({ 'changes-since': since })) if (ids.includes(server.id)) listed.set(server.id, server);
      const seen = new Map<string, Server | undefined>();
      for (const id of ids) {
        // Listed DELETED (changes-since shows deleted servers), or missed: gone, or looked at on its own.
        const server = listed.get(id);
        seen.set(id, server ? (server.status === 'DELETED' ? undefined : server) : await compute.getServer(id));
      }
      return seen;
    });
  }

  /** The server as Nova shows it now, or undefined once it is gone. */
  look(id: string): Promise<Server | undefined> {
    return this.#batch.get(id);
  }
}
