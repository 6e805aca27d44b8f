import * as core from '@actions/core';
import { AsyncLocalStorage } from 'node:async_hooks';

/** Makes a Text: only this module can, so `t` and `join` are the only ways to one. */
let make: (value: string) => Text;

/**
 * A message fit for the log: built with `t`, which treats every interpolated value as data.
 * The sinks below take only this type, so no text from the cloud or a user reaches the runner
 * without passing through `neutralise` (the compiler refuses a plain string).
 */
export class Text {
  readonly #value: string;
  private constructor(value: string) {
    this.#value = value;
  }
  static {
    make = (value) => new Text(value);
  }
  toString(): string {
    return this.#value;
  }
}

/**
 * Characters that would let data end a log line or hide what it says: line breaks (the runner
 * also ends a line at a lone \r, and .NET at U+2028/2029), other controls, and the bidi overrides
 * that reorder what a reader sees.
 */
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r' };

/**
 * Data as it may stand in a log line, an annotation or an output: no line breaks or controls
 * (shown escaped, as JSON would), and no legacy `##[command]` prefix, which the runner reads
 * anywhere in a line. A new line is the only way to start a `::command::`, so none can be forged.
 */
export function neutralise(value: string): string {
  return value.replace(UNSAFE, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).replace(/##\[/g, '#\\u0023[');
}

function fragment(value: unknown): string {
  if (value instanceof Text) return value.toString();
  if (value instanceof Error) return neutralise(value.message);
  return neutralise(String(value));
}

/** Tagged template: the literal parts are the action's words, every `${value}` is data. */
export function t(strings: TemplateStringsArray, ...values: unknown[]): Text {
  return make(strings.reduce((out, literal, i) => out + literal + (i < values.length ? fragment(values[i]) : ''), ''));
}

/** Several messages as one, `separator` between them (the action's words, not data). */
export function join(parts: readonly Text[], separator: string): Text {
  return make(parts.map(String).join(separator));
}

/** The prefix of the lines logged inside `within`. */
const prefix = new AsyncLocalStorage<string>();

/** Run `work` with each line it logs prefixed by `[label] ` (data): servers done side by side keep their lines apart. */
export function within<T>(label: string, work: () => Promise<T>): Promise<T> {
  return prefix.run(`[${neutralise(label)}] `, work);
}

/** Set while a group is open: the runner folds no group inside another. */
const grouped = new AsyncLocalStorage<boolean>();

/** A line that starts like a workflow command (only the action's own words could) is shown, not run. */
const line = (message: Text) => (prefix.getStore() ?? '') + String(message).replace(/^(\s*)::/gm, '$1\\::');

type Annotation = core.AnnotationProperties;

/** The only way the action writes to the runner's log. */
export const log = {
  info: (message: Text) => core.info(line(message)),
  notice: (message: Text, properties?: Annotation) => core.notice(line(message), properties),
  warning: (message: Text, properties?: Annotation) => core.warning(line(message), properties),
  fail: (message: Text) => core.setFailed(line(message)),
  /** Debug lines from the OpenStack layer (URLs, statuses, error codes) are data as a whole. */
  debug: (raw: string) => core.debug(neutralise(raw)),
  /** Outputs are data for later steps: one line each, whatever the cloud put in a name. */
  output: (name: string, value: string) => core.setOutput(name, neutralise(value)),
  /**
   * The lines `work` logs, folded under `title` in the log (a long listing). Inside another group
   * (a prune after each snapshot of a fleet) they are logged as they come.
   */
  group: async <T>(title: Text, work: () => Promise<T>): Promise<T> => {
    if (grouped.getStore()) return work();
    core.startGroup(line(title));
    try {
      return await grouped.run(true, work);
    } finally {
      core.endGroup();
    }
  },
};
