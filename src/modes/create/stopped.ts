import { formatDuration } from '../../duration.ts';
import { log, t } from '../../log.ts';
import type { Compute, Server } from '../../openstack/compute.ts';
import { ConflictError } from '../../openstack/errors.ts';
import { CUT_SHORT, Deadline, poll } from '../../openstack/wait.ts';
import { StepError } from '../outcome.ts';

/** Task states while Nova still reads the disk; from image_uploading on, the disk has been captured. */
const CAPTURING = new Set(['image_snapshot_pending', 'image_snapshot', 'image_pending_upload']);

/** Servers this run stopped and has not started yet: started again whatever happens, a cancelled job included. */
const stoppedHere = new Map<string, Compute>();

/** The runner gives a cancelled step 7.5 s after SIGINT before it sends SIGTERM, and 2.5 s more before SIGKILL. */
const CANCEL_GRACE_MS = 7_000;

/** Nova refuses os-start (409) while the snapshot task runs: asked again until it accepts, within the grace. */
async function startBefore(compute: Compute, id: string, deadline: number): Promise<boolean> {
  for (;;) {
    try {
      await compute.power(id, 'os-start');
      return true;
    } catch (error) {
      if (!(error instanceof ConflictError) || Date.now() + 500 > deadline) return false;
      await new Promise((done) => setTimeout(done, 500));
    }
  }
}

function onCancel(signal: NodeJS.Signals): void {
  log.warning(t`${signal}: starting the ${stoppedHere.size} server(s) this run stopped before it ends`);
  const deadline = Date.now() + (signal === 'SIGTERM' ? 2_000 : CANCEL_GRACE_MS);
  const starts = [...stoppedHere].map(async ([id, compute]) => {
    if (!(await startBefore(compute, id, deadline))) log.warning(t`Server ${id} could not be started before the step ended: start it with: openstack server start ${id}`);
  });
  void Promise.all(starts).finally(() => process.exit(1));
}

function track(server: Server, compute: Compute): void {
  if (!stoppedHere.size) for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, onCancel);
  stoppedHere.set(server.id, compute);
}

function untrack(server: Server): void {
  stoppedHere.delete(server.id);
  if (!stoppedHere.size) for (const signal of ['SIGINT', 'SIGTERM'] as const) process.removeListener(signal, onCancel);
}

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

/**
 * Stop a running server for a consistent snapshot and wait until it is SHUTOFF; undefined when
 * it was not running (a SHUTOFF server is left so). From here on the server is started again
 * whatever happens: by `startAgain`, or on SIGINT/SIGTERM.
 */
export async function stopForSnapshot(compute: Compute, server: Server, deadline: Deadline): Promise<{ server: Server; stoppedAt: number } | undefined> {
  if (server.status !== 'ACTIVE') {
    log.info(t`Server ${server.name} is ${server.status}: left as it is (it is not running, so the snapshot is of a stopped disk)`);
    return undefined;
  }
  track(server, compute);
  const stoppedAt = Date.now();
  try {
    await compute.power(server.id, 'os-stop');
    log.info(t`Stopping server ${server.name} for a consistent snapshot`);
    const off = await until(compute, server, deadline, (s) => s.status === 'SHUTOFF' && s.taskState === null);
    if (!off.done) throw new StepError(`Server ${server.name} (${server.id}) did not stop in time: it is ${off.server.status} (task_state ${off.server.taskState ?? 'none'})`);
    return { server: off.server, stoppedAt };
  } catch (error) {
    await startAgain(compute, server, stoppedAt);
    throw error;
  }
}

/**
 * Start the server again as soon as Nova has captured its disk and lets it be started (it refuses
 * os-start with 409 until the snapshot's task is over), and wait until it runs. Returns how long it was down.
 */
export async function startWhenCaptured(compute: Compute, server: Server, stoppedAt: number, deadline: Deadline): Promise<number> {
  await until(compute, server, deadline, (s) => !CAPTURING.has(s.taskState ?? ''));
  for (;;) {
    try {
      await compute.power(server.id, 'os-start');
      break;
    } catch (error) {
      if (!(error instanceof ConflictError) || deadline.passed) throw error;
      await until(compute, server, deadline, (s) => s.taskState === null);
    }
  }
  untrack(server);
  const up = await until(compute, server, deadline, (s) => s.status === 'ACTIVE' && s.taskState === null);
  const downMs = Date.now() - stoppedAt;
  if (!up.done) log.warning(t`Server ${server.name} was started again but is still ${up.server.status} (task_state ${up.server.taskState ?? 'none'}); check it with: openstack server show ${server.id}`);
  else log.info(t`Started server ${server.name} again: it was down ${formatDuration(downMs)}`);
  return downMs;
}

/** After a failure: start the server again if this run stopped it and has not started it (best effort, said in the log). */
export async function startAgain(compute: Compute, server: Server, stoppedAt: number): Promise<void> {
  if (!stoppedHere.has(server.id)) return;
  try {
    await compute.power(server.id, 'os-start').catch(async (error: unknown) => {
      // Still busy with the snapshot: Nova starts it once the task is over.
      if (!(error instanceof ConflictError)) throw error;
      await until(compute, server, Deadline.after(60_000), (s) => s.taskState === null);
      await compute.power(server.id, 'os-start');
    });
    log.info(t`Started server ${server.name} again after the failure: it was down ${formatDuration(Date.now() - stoppedAt)}`);
  } catch (error) {
    log.warning(t`Server ${server.name} (${server.id}) was stopped for the snapshot and could not be started again: ${error}. Start it with: openstack server start ${server.id}`);
  }
  untrack(server);
}
