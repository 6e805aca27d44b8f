import { log, t, type Text } from '../lib/log.ts';
import { StepError } from './outcome.ts';
import { Deadline } from '../lib/wait.ts';

/** The runner cancels a step with SIGINT, sends SIGTERM 7.5 s later and SIGKILL 2.5 s after that. */
const KILLED_AFTER_MS: Record<string, number> = { SIGINT: 10_000, SIGTERM: 2_500 };
/** Restarts are given up this long before SIGKILL, so the outcome can still be reported. */
const REPORT_MS = 1_000;
/** The last moment to name what is left undone and exit, before SIGKILL. */
const LAST_CHANCE_MS = 400;

/** What the cancel cut short or kept from being done. */
export class Cancelled extends StepError {
  override name = 'Cancelled';
}

/**
 * The job being cancelled, for the whole run: set by the first SIGINT or SIGTERM. From then on
 * nothing new is stopped or snapshotted, and the run only starts again the servers it stopped
 * (its duties), within what the runner leaves it before SIGKILL.
 */
export class Cancellation {
  readonly #controller = new AbortController();
  readonly signal = this.#controller.signal;
  /** Set by the first signal: which one, and when the runner will kill the process. */
  #by: { name: string; killAt: number } | undefined;
  /** What the run must still do, with what to say if it cannot. */
  readonly #duties = new Set<Text>();

  get cancelled(): boolean {
    return this.signal.aborted;
  }

  /** The first signal cancels; a later one only says that the run is still ending. */
  cancel(name: string): void {
    const starting = this.#duties.size ? t`; starting the ${this.#duties.size} instance(s) this run stopped before it ends` : '';
    if (this.#by) {
      log.warning(t`${name}: the job is already cancelled${starting}`);
      return;
    }
    this.#by = { name, killAt: Date.now() + (KILLED_AFTER_MS[name] ?? KILLED_AFTER_MS.SIGTERM!) };
    log.warning(t`${name}: the job is cancelled: nothing more is stopped or snapshotted${starting}`);
    this.#controller.abort();
  }

  /** The failure of what the cancel cut short, or kept from being done (`what`: "before …", "while …"). */
  error(what: Text | string): Cancelled {
    return new Cancelled(`The job was cancelled (${this.#by?.name ?? 'cancelled'}) ${what}`);
  }

  /** Nothing new is begun once the job is cancelled: `what` is what would have been done. */
  check(what: Text | string): void {
    if (this.cancelled) throw this.error(`before ${what}`);
  }

  /** After a cancel: what is left to restart servers in, until shortly before SIGKILL. */
  grace(): Deadline {
    return new Deadline(Math.max(0, (this.#by?.killAt ?? Date.now()) - REPORT_MS - Date.now()));
  }

  /** A duty of the run (a server it stopped): `unmet` is said if the process has to end before `done` is called. */
  owe(unmet: Text): () => void {
    this.#duties.add(unmet);
    return () => this.#duties.delete(unmet);
  }

  /** Just before SIGKILL: every duty left is named, and the step fails (the runner would kill it anyway). */
  lastChance(): void {
    for (const unmet of this.#duties) log.warning(unmet);
    log.fail(t`The job was cancelled (${this.#by?.name ?? ''}) and the runner ends it now`);
    process.exit(1);
  }

  /**
   * The runner's signals, handled for the whole run: the first one cancels, later ones do not kill
   * the process before its duties are done; shortly before SIGKILL, what is left is named. Returns
   * what ends the watch.
   */
  watchSignals(): () => void {
    let lastChance: NodeJS.Timeout | undefined;
    const handler = (name: NodeJS.Signals) => {
      const first = !this.#by;
      this.cancel(name);
      if (first) lastChance = setTimeout(() => this.lastChance(), this.#by!.killAt - Date.now() - LAST_CHANCE_MS).unref();
    };
    const signals = ['SIGINT', 'SIGTERM'] as const;
    for (const name of signals) process.on(name, handler);
    return () => {
      clearTimeout(lastChance);
      for (const name of signals) process.removeListener(name, handler);
    };
  }
}
