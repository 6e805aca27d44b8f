import { formatDuration } from '../../lib/duration.ts';
import { log, t } from '../../lib/log.ts';
import type { Compute, Server } from '../../openstack/compute.ts';
import { codeOf, ConflictError, CrossHostError, refusedBeforeActing, statusOf } from '../../openstack/errors.ts';
import { CUT_SHORT, poll, type Deadline } from '../../lib/wait.ts';
import { StepError } from '../outcome.ts';
import { REBUILD, untilFree } from '../server-wait.ts';

/** Nova's task states of a rebuild under way (task_states.py). */
const REBUILDING = new Set(['rebuilding', 'rebuild_block_device_mapping', 'rebuild_spawning']);
/** Attempts at most: only after a 409, which Nova answers before it acts. */
const MAX_ATTEMPTS = 3;

/**
 * Rebuild the server from the image, at most once. A 409 (the server became busy) is waited out
 * and sent again; a failure without a clear answer is looked for on the server (Nova sets the
 * task state and the image before it answers) and never sent twice: a rebuild replaces the disk.
 */
export async function rebuildOnce(compute: Compute, server: Server, imageId: string, deadline: Deadline): Promise<Server> {
  let current = server;
  for (let attempt = 1; ; attempt += 1) {
    try {
      await compute.rebuild(current.id, imageId);
      return current;
    } catch (error) {
      if (error instanceof ConflictError && attempt < MAX_ATTEMPTS && !deadline.passed) {
        log.info(t`Nova answered 409 (${error.message}); waiting for the instance to be free`);
        current = await untilFree(compute, current, REBUILD, deadline, true);
        continue;
      }
      if (refusedBeforeActing(error) || error instanceof CrossHostError) throw error;
      const now = await compute.getServer(current.id);
      if (now && (REBUILDING.has(now.taskState ?? '') || (now.imageId === imageId && current.imageId !== imageId))) {
        log.info(t`The rebuild request got no clear answer, but Nova shows it under way (${now.status}, task_state ${now.taskState ?? 'none'})`);
        return current;
      }
      throw new StepError(
        `The rebuild of instance ${server.name} (${server.id}) got no clear answer (${codeOf(error) ?? statusOf(error) ?? (error instanceof Error ? error.message : String(error))}) and Nova shows no rebuild under way ` +
          `(${now ? `${now.status}, task_state ${now.taskState ?? 'none'}` : 'the instance is not found'}). It is not sent again, since a rebuild replaces the disk; ` +
          `check with: openstack server show ${server.id} -c status -c OS-EXT-STS:task_state -c image, then run the step again`,
      );
    }
  }
}

/**
 * Poll Nova until the rebuild is over: the server settled (no task state) on the image in the
 * state it had, or in ERROR (with Nova's fault), or still at work at the deadline (with how to check it).
 */
export async function untilRebuilt(compute: Compute, server: Server, imageId: string, deadline: Deadline): Promise<{ server: Server; failure?: StepError }> {
  // Nova powers a stopped server off again after the rebuild: it shows ACTIVE, with no task, in between.
  const expected = server.status === 'SHUTOFF' ? 'SHUTOFF' : 'ACTIVE';
  const started = Date.now();
  let seen = server;
  let lastState = '';
  const outcome = await poll(async () => {
    const look = await deadline.look((signal) => compute.getServer(server.id, signal));
    if (look === CUT_SHORT) return { done: false, value: seen };
    if (!look) throw new StepError(`Instance ${server.name} (${server.id}) was deleted during its rebuild`);
    seen = look;
    const state = `${look.status}${look.taskState ? ` (${look.taskState})` : ''}`;
    if (state !== lastState) log.info(t`[${formatDuration(Date.now() - started)}] instance ${server.name}: ${state}`);
    lastState = state;
    const settled = look.taskState === null && look.status !== 'REBUILD';
    return { done: settled && (look.status === 'ERROR' || (look.status === expected && look.imageId === imageId)), value: look };
  }, deadline);
  const check = `openstack server show ${server.id} -c status -c OS-EXT-STS:task_state -c image -c fault`;
  if (!outcome.done) {
    const failure = new StepError(
      `Timed out (timeout ${formatDuration(deadline.budgetMs)}) waiting for the rebuild of instance ${server.name} (${server.id}) from snapshot ${imageId}: ` +
        `it is still ${seen.status}${seen.taskState ? ` with task_state ${seen.taskState}` : ''}. The rebuild goes on in the cloud; check it with: ${check}`,
    );
    return { server: seen, failure };
  }
  const now = outcome.value;
  if (now.status === 'ERROR') {
    return {
      server: now,
      failure: new StepError(
        `The rebuild of instance ${server.name} (${server.id}) failed: Nova put it in ERROR${now.fault ? `: ${now.fault.replace(/\.$/, '')}` : ''}. See: ${check}`,
      ),
    };
  }
  return { server: now };
}
