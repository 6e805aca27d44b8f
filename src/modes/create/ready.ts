import { log, t } from '../../log.ts';
import type { Compute, Server } from '../../openstack/compute.ts';
import { CUT_SHORT, poll, type Deadline } from '../../openstack/wait.ts';
import { StepError } from '../outcome.ts';

/** Nova snapshots servers in these states (check_instance_state on API.snapshot). */
const SNAPSHOTTABLE = new Set(['ACTIVE', 'SHUTOFF', 'SUSPENDED', 'PAUSED']);
/** States a server leaves by itself: worth waiting for. */
const TRANSITIONAL = new Set(['BUILD', 'REBOOT', 'HARD_REBOOT', 'REBUILD', 'RESIZE', 'MIGRATING', 'PASSWORD']);

/** Another operation (a snapshot, a reboot) is under way on the server. */
export const busy = (server: Server) => server.taskState !== null || TRANSITIONAL.has(server.status);

const unsnapshottable = (server: Server) =>
  new StepError(`Server ${server.name} (${server.id}) is ${server.status}: Nova can snapshot a server that is ACTIVE, SHUTOFF, SUSPENDED or PAUSED`);

/**
 * The server once Nova would accept a snapshot of it, within the deadline. `server` is what was
 * last seen of it; with `stale`, Nova said otherwise since, so it is looked at again.
 */
export async function untilSnapshottable(compute: Compute, server: Server, deadline: Deadline, stale = false): Promise<Server> {
  if (!stale && !busy(server)) {
    if (SNAPSHOTTABLE.has(server.status)) return server;
    throw unsnapshottable(server);
  }
  if (!stale) log.info(t`Server ${server.name} is ${server.status}${server.taskState ? t` (task_state ${server.taskState})` : ''}: waiting until it can be snapshotted`);
  let seen = server;
  const outcome = await poll(async () => {
    const look = await deadline.look((signal) => compute.getServer(server.id, signal));
    if (look === CUT_SHORT) return { done: false, value: seen };
    if (!look) throw new StepError(`Server ${server.name} (${server.id}) was deleted while waiting to snapshot it`);
    seen = look;
    return { done: !busy(look), value: look };
  }, deadline);
  if (!outcome.done) {
    throw new StepError(
      `Timed out waiting for server ${server.name} (${server.id}) to be free: it is still ${seen.status}${seen.taskState ? ` with task_state ${seen.taskState}` : ''}. ` +
        `Another snapshot or operation is running; check it with: openstack server show ${server.id} -c status -c OS-EXT-STS:task_state`,
    );
  }
  if (!SNAPSHOTTABLE.has(outcome.value.status)) throw unsnapshottable(outcome.value);
  return outcome.value;
}
