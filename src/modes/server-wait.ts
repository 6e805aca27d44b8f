import { log, t } from '../lib/log.ts';
import type { Compute, Server } from '../openstack/compute.ts';
import { CUT_SHORT, poll, type Deadline } from '../lib/wait.ts';
import { StepError } from './outcome.ts';

/** States a server leaves by itself: worth waiting for. */
const TRANSITIONAL = new Set(['BUILD', 'REBOOT', 'HARD_REBOOT', 'REBUILD', 'RESIZE', 'MIGRATING', 'PASSWORD']);

/** What is to be done to the server, and the states Nova does it in (check_instance_state on its API). */
export const SNAPSHOT = { verb: 'snapshot', done: 'snapshotted', states: ['ACTIVE', 'SHUTOFF', 'SUSPENDED', 'PAUSED'] } as const;
export const REBUILD = { verb: 'rebuild', done: 'rebuilt', states: ['ACTIVE', 'SHUTOFF', 'ERROR'] } as const;
type Action = typeof SNAPSHOT | typeof REBUILD;

/** Another operation (a snapshot, a reboot) is under way on the server. */
export const busy = (server: Server) => server.taskState !== null || TRANSITIONAL.has(server.status);

function refused(server: Server, action: Action): StepError {
  const states = `${action.states.slice(0, -1).join(', ')} or ${action.states.at(-1)}`;
  return new StepError(`Instance ${server.name} (${server.id}) is ${server.status}: Nova can ${action.verb} an instance that is ${states}`);
}

/**
 * The server once Nova would accept the action on it, within the deadline. `server` is what was
 * last seen of it; with `stale`, Nova said otherwise since, so it is looked at again.
 */
export async function untilFree(compute: Compute, server: Server, action: Action, deadline: Deadline, stale = false): Promise<Server> {
  const accepted = (s: Server) => (action.states as readonly string[]).includes(s.status);
  if (!stale && !busy(server)) {
    if (accepted(server)) return server;
    throw refused(server, action);
  }
  if (!stale)
    log.info(
      t`Instance ${server.name} is ${server.status}${server.taskState ? t` (task_state ${server.taskState})` : ''}: waiting until it can be ${action.done}`,
    );
  let seen = server;
  const outcome = await poll(async () => {
    const look = await deadline.look((signal) => compute.getServer(server.id, signal));
    if (look === CUT_SHORT) return { done: false, value: seen };
    if (!look) throw new StepError(`Instance ${server.name} (${server.id}) was deleted while waiting to ${action.verb} it`);
    seen = look;
    return { done: !busy(look), value: look };
  }, deadline);
  if (!outcome.done) {
    throw new StepError(
      `Timed out waiting for instance ${server.name} (${server.id}) to be free: it is still ${seen.status}${seen.taskState ? ` with task_state ${seen.taskState}` : ''}. ` +
        `Another snapshot or operation is running; check it with: openstack server show ${server.id} -c status -c OS-EXT-STS:task_state`,
    );
  }
  if (!accepted(outcome.value)) throw refused(outcome.value, action);
  return outcome.value;
}
