/** Values a snapshot name template can use, as `{token}`. */
export interface NameValues {
  instance: string;
  instance_id: string;
  region: string;
  /** The moment the snapshot was asked for. */
  now: Date;
  sha?: string;
  run_id?: string;
  run_attempt?: string;
  repo?: string;
  ref_name?: string;
}

const pad = (n: number) => String(n).padStart(2, '0');
const dateOf = (d: Date) => `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
const timeOf = (d: Date) => `${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;

const TOKENS: Record<string, (v: NameValues) => string> = {
  instance: (v) => v.instance,
  instance_id: (v) => v.instance_id,
  region: (v) => v.region,
  date: (v) => dateOf(v.now),
  time: (v) => timeOf(v.now),
  timestamp: (v) => `${dateOf(v.now)}-${timeOf(v.now)}`,
  sha: (v) => (v.sha ?? '').slice(0, 7),
  run_id: (v) => v.run_id ?? '',
  run_attempt: (v) => v.run_attempt ?? '',
  repo: (v) => (v.repo ?? '').split('/').pop() ?? '',
  ref_name: (v) => v.ref_name ?? '',
};

export const DEFAULT_NAME_TEMPLATE = '{instance}-{timestamp}';
const TEMPLATE_TOKENS = Object.keys(TOKENS);
const TOKEN = /\{([^{}]*)\}/g;

/** Problems with a template, found before any request: unknown tokens, stray braces. */
export function templateProblems(template: string): string[] {
  const problems: string[] = [];
  if (!template.trim()) problems.push('it is empty');
  const unknown = [...template.matchAll(TOKEN)].map((m) => m[1] ?? '').filter((token) => !(token in TOKENS));
  if (unknown.length) problems.push(`unknown ${unknown.map((t) => `{${t}}`).join(', ')}; valid tokens are ${TEMPLATE_TOKENS.map((t) => `{${t}}`).join(' ')}`);
  if (/[{}]/.test(template.replace(TOKEN, ''))) problems.push('it has a "{" or "}" that is not part of a {token}');
  return problems;
}

export function renderName(template: string, values: NameValues): string {
  return template.replace(TOKEN, (_, token: string) => TOKENS[token]?.(values) ?? '').trim();
}

/** The name with its `{instance}` part shortened (by whole characters) until it is at most `max` long. */
export function renderFitted(template: string, values: NameValues, max: number): string {
  const chars = Array.from(values.instance);
  let name = renderName(template, values);
  while (name.length > max && chars.length) {
    chars.pop();
    name = renderName(template, { ...values, instance: chars.join('') });
  }
  return name;
}

/**
 * The glob that matches every name the template makes for this instance: what a create's own
 * prune may touch. Tokens that change from run to run become `*`.
 */
export function templateGlob(template: string, values: Pick<NameValues, 'instance' | 'instance_id' | 'region'>): string {
  const fixed: Record<string, string> = { instance: values.instance, instance_id: values.instance_id, region: values.region };
  const escape = (text: string) => text.replace(/[*?]/g, '?');
  return template
    .replace(TOKEN, (_, token: string) => {
      const value = fixed[token];
      return value === undefined ? '*' : escape(value);
    })
    .trim();
}
