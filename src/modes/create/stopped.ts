import { setTimeout as sleep } from 'node:timers/promises';
import type { Cancellation } from '../cancel.ts';
import { Input } from '../../lib/constants.ts';
import { formatDuration } from '../../lib/duration.ts';
import { log, t } from '../../lib/log.ts';
import type { Compute, Server } from '../../openstack/compute.ts';
import { ConflictError, refusedBeforeActing, statusOf } from '../../openstack/errors.ts';
import { CUT_SHORT, Deadline, poll } from '../../lib/wait.ts';
import { StepError } from '../outcome.ts';

/** Task states while Nova still reads the disk; from image_uploading on, the disk has been captured. */
export const CAPTURING = new Set(['image_snapshot_pending', 'image_snapshot', 'image_pending_upload']);
/** How long Nova is given to accept os-start once the run tries to start a server again (it refuses while a snapshot's task runs). */
export const RESTART_MS = 60_000;
/** Between two os-start requests that Nova refused or did not clearly answer. */
const RETRY_MS = 500;
/** os-start requests without a clear answer (5xx, none) before the server is named as down. */
const UNCLEAR_ATTEMPTS = 3;

/** A server this run stopped (Nova accepted the os-stop, or may have): started again or named as down, whatever happens. */
export interface Stopped {
  server: Server;
  stoppedAt: number;
  /** The duty is met: the server was started again, or named as down. */
  release: () => void;
}

/** How it went when the server was started again: how long it was down, or why that is not known (already said in the log). */
export type Restart = { downtimeMs: number } | { problem: string };

/** Poll the server until `done`, within the deadline; the last look otherwise. */
async function until(compute: Compute, server: Server, deadline: Deadline, done: (s: Server) => boolean): Promise<{ done: boolean; server: Server }> {
  let seen = server;
  const outcome = await poll(async () => {
    const look = await deadline.look((signal) => compute.getServer(server.id, signal));
    if (look === CUT_SHORT || !look) return { done: false, value: seen };
    seen = look;
    return { done: done(look), value: look };
  }, deadline);
  return { done: outcome.done, server: seen };
}

/** Nova refused the os-stop before acting: the server was not stopped by this run, so it is never started by it. */
function refusedStop(server: Server, error: unknown): StepError {
  const why =
    statusOf(error) === 403
      ? `this login lacks the policy to stop instances (os_compute_api:servers:stop): ask the cloud's operator for it, or snapshot without ${Input.StopInstance}`
      : 'it may have been stopped or changed by someone else meanwhile';
  return new StepError(
    `Nova refused to stop instance ${server.name} (${server.id}): ${error instanceof Error ? error.message : String(error)}. Nothing was stopped, and nothing is started: ${why}`,
  );
}

/**
 * Stop a running server for a consistent snapshot and wait until it is SHUTOFF; undefined when
 * it was not running (a SHUTOFF server is left so). Once Nova accepted the os-stop (or may have),
 * the server is started again whatever happens, a cancel included; a refused os-stop stops nothing.
 */
export async function stopForSnapshot(compute: Compute, server: Server, deadline: Deadline, cancel: Cancellation): Promise<Stopped | undefined> {
  if (server.status !== 'ACTIVE') {
    log.info(t`Instance ${server.name} is ${server.status}: left as it is (it is not running, so the snapshot is of a stopped disk)`);
    return undefined;
  }
  cancel.check(t`instance ${server.name} was stopped`);
  const stoppedAt = Date.now();
  let unclear: unknown;
  try {
    await compute.power(server.id, 'os-stop');
  } catch (error) {
    if (refusedBeforeActing(error)) throw refusedStop(server, error);
    // No clear answer (5xx, none): Nova may have stopped it, so it is started again like one it did.
    unclear = error;
  }
  const stopped: Stopped = {
    server,
    stoppedAt,
    release: cancel.owe(
      t`Instance ${server.name} (${server.id}) was stopped for the snapshot and is still down: start it with: openstack server start ${server.id}`,
    ),
  };
  try {
    if (unclear) throw unclear;
    log.info(t`Stopping instance ${server.name} for a consistent snapshot`);
    const off = await until(compute, server, deadline, (s) => s.status === 'SHUTOFF' && s.taskState === null);
    if (cancel.cancelled) throw cancel.error(t`while instance ${server.name} was being stopped, before its snapshot was requested`);
    if (!off.done)
      throw new StepError(
        `Instance ${server.name} (${server.id}) did not stop in time: it is ${off.server.status} (task_state ${off.server.taskState ?? 'none'})`,
      );
    return { ...stopped, server: off.server };
  } catch (error) {
    await startAgain(compute, stopped, cancel);
    throw error;
  }
}

/** The server runs, or is being started: by an os-start whose answer was lost, by someone else, or it was never stopped. */
const started = (s: Server | undefined) => !!s && ((s.status === 'ACTIVE' && s.taskState === null) || s.taskState === 'powering-on');

/**
 * os-start until Nova accepts it or the server is seen started. A 409 (the snapshot's task runs)
 * is waited out for RESTART_MS, or after a cancel until shortly before the runner kills the step.
 * False when the server is still down: it has then been named, with the command to start it.
 */
async function start(compute: Compute, stopped: Stopped, cancel: Cancellation, deadline = Deadline.after(RESTART_MS, cancel.signal)): Promise<boolean> {
  const { server } = stopped;
  for (let attempt = 1; ; attempt += 1) {
    try {
      await compute.power(server.id, 'os-start');
      stopped.release();
      return true;
    } catch (error) {
      const now = await compute.getServer(server.id).catch(() => undefined);
      if (started(now)) {
        stopped.release();
        return true;
      }
      const limit = cancel.cancelled ? cancel.grace() : deadline;
      const busy = error instanceof ConflictError;
      if ((!busy && (refusedBeforeActing(error) || attempt >= UNCLEAR_ATTEMPTS)) || Date.now() + RETRY_MS >= limit.at) {
        log.warning(
          t`Instance ${server.name} (${server.id}) was stopped for the snapshot and could not be started again: ${error}. Start it with: openstack server start ${server.id}`,
        );
        stopped.release();
        return false;
      }
      await sleep(RETRY_MS);
      // Nova accepts os-start once the snapshot's task is over: looked at rather than asked again, unless the job is ending.
      if (busy && !cancel.cancelled) await until(compute, server, deadline, (s) => s.taskState === null).catch(() => undefined);
    }
  }
}

/**
 * Start the server again as soon as Nova has captured its disk and lets it be started (it refuses
 * os-start with 409 until the snapshot's task is over), and wait until it runs: how long it was
 * down, or, when it is not seen running by the deadline, why not (its downtime is then unknown).
 */
export async function startWhenCaptured(compute: Compute, stopped: Stopped, deadline: Deadline, cancel: Cancellation): Promise<Restart> {
  const { server } = stopped;
  // A look that fails is no reason not to try to start it.
  await until(compute, server, deadline, (s) => !CAPTURING.has(s.taskState ?? '')).catch(() => undefined);
  // Nova refuses os-start until the upload after the capture ended too (minutes for a large disk): asked within the step's timeout.
  const uploadEnds = Deadline.after(Math.max(RESTART_MS, deadline.at - Date.now()), cancel.signal);
  if (!(await start(compute, stopped, cancel, uploadEnds)))
    return { problem: `Instance ${server.name} (${server.id}) is still down: start it with: openstack server start ${server.id}` };
  let seen: string | undefined;
  try {
    const up = await until(compute, server, cancel.cancelled ? cancel.grace() : deadline, (s) => s.status === 'ACTIVE' && s.taskState === null);
    if (!up.done) seen = `it is still ${up.server.status} (task_state ${up.server.taskState ?? 'none'})`;
  } catch (error) {
    seen = `looking at it failed: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (seen) {
    const problem = `Instance ${server.name} (${server.id}) was started again (Nova accepted os-start) but was not seen running: ${seen}, so its downtime is unknown. Check it with: openstack server show ${server.id}; if it is still SHUTOFF, start it with: openstack server start ${server.id}`;
    log.warning(t`${problem}`);
    return { problem };
  }
  const downtimeMs = Date.now() - stopped.stoppedAt;
  log.info(t`Started instance ${server.name} again: it was down ${formatDuration(downtimeMs)}`);
  return { downtimeMs };
}

/** After a failure or a cancel, before any snapshot was requested: start the server this run stopped (said in the log). */
export async function startAgain(compute: Compute, stopped: Stopped, cancel: Cancellation): Promise<void> {
  if (await start(compute, stopped, cancel)) {
    log.info(
      t`Started instance ${stopped.server.name} again after the ${cancel.cancelled ? 'cancel' : 'failure'}: it was down ${formatDuration(Date.now() - stopped.stoppedAt)}`,
    );
  }
}
