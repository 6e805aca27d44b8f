// README and action.yml say the same of every input and output: which modes it applies to, its
// default, the OS_* variables it falls back to, and how the login is chosen. action.yml's
// descriptions start with the modes in brackets; the README says them in its tables.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';

import { ROOT } from '../support/workflows.ts';

type Entry = { description: string; default?: string };
const action = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, Entry>; outputs: Record<string, Entry> };
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

/** What one source says of one input or output; a field it does not state is left out. */
interface Claim {
  modes?: string[];
  default?: string;
  fallbacks?: string[];
}

const plain = (text: string) => text.replace(/`/g, '').trim();
const modeList = (text: string) =>
  plain(text)
    .split(/,\s*/)
    .map((m) => (m === 'all modes' ? 'all' : m))
    .sort();

/** action.yml: `[modes] … Falls back to OS_A, then OS_B. Default: X.` (or `Unset: …` for how the login is chosen), or a `default:` key. */
function actionClaim(entry: Entry): Claim {
  const modes = /^\[([^\]]+)\] /.exec(entry.description);
  const fallbacks = /Falls back to (OS_\w+(?:, then OS_\w+)*)\./.exec(entry.description);
  const stated = /\b(?:Default|Unset): (.+?)\.$/.exec(entry.description);
  return {
    ...(modes ? { modes: modeList(modes[1]!) } : {}),
    ...(entry.default !== undefined ? { default: String(entry.default) } : stated ? { default: plain(stated[1]!) } : {}),
    ...(fallbacks ? { fallbacks: fallbacks[1]!.split(', then ') } : {}),
  };
}

/** The rows of the first table under a `## heading`, as cells. */
function table(heading: string): string[][] {
  const section = readme.split(/^## /m).find((s) => s.startsWith(`${heading}\n`));
  assert.ok(section, `README has no section ## ${heading}`);
  const rows = section.split('\n').filter((l) => l.startsWith('|'));
  return rows.slice(2).map((row) => row.replace(/^\|\s*|\s*\|$/g, '').split(/\s*\|\s*/));
}

/** A row's names: `a`, `a`, `b`, `a` … `c` (the keep-* family), `x-id` / `-secret`. */
function names(cell: string): string[] {
  const range = /^`keep-hourly` … `keep-yearly`$/.test(cell) ? ['keep-hourly', 'keep-daily', 'keep-weekly', 'keep-monthly', 'keep-yearly'] : undefined;
  if (range) return range;
  const parts = cell.split(/\s*(?:,|\/)\s*/).map(plain);
  return parts.map((part) => (part.startsWith('-') ? parts[0]!.replace(/-[^-]+$/, part) : part));
}

/** The README's Inputs and Outputs tables: name | modes | (default |) description. */
function modeTable(heading: string, withDefault: boolean): Map<string, Claim> {
  const claims = new Map<string, Claim>();
  for (const [name, modes, dflt] of table(heading)) {
    for (const one of names(name!)) {
      const claim: Claim = { modes: modeList(modes!) };
      if (withDefault && dflt) {
        if (/^`OS_\w+`$/.test(dflt)) claim.fallbacks = [plain(dflt)];
        else claim.default = plain(dflt);
      }
      claims.set(one, claim);
    }
  }
  return claims;
}

/** The Credentials table: input(s) | falls back to | note, where the note may give defaults and how auth-type is chosen. */
function credentialsTable(): Map<string, Claim> {
  const claims = new Map<string, Claim>();
  for (const [name, fallback, note = ''] of table('Credentials')) {
    const inputs = names(name!);
    const variables = fallback
      ? fallback
          .split(/\s*\/\s*/)
          .map((v, _, all) => v.split(/,\s*/).map((one) => (plain(one).startsWith('_') ? plain(all[0]!).replace(/_[^_]+$/, plain(one)) : plain(one))))
      : [];
    const defaults = new Map<string, string>();
    const pair = /\bdefault `([^`]+)` \/ `([^`]+)`/.exec(note);
    const single = /\bdefault (`[^`]+`|the [^;|]+?)(?:\s*\(|;|$)/.exec(note) ?? /`([^`]+)` \(default\)/.exec(note);
    const named = /`([\w-]+)` defaults to `([^`]+)`/.exec(note);
    const unset = /Unset: ([^|]+?)\s*$/.exec(note);
    if (pair) inputs.forEach((input, i) => defaults.set(input, [pair[1]!, pair[2]!][i]!));
    else if (single) defaults.set(inputs[0]!, plain(single[1]!));
    if (named) defaults.set(named[1]!, named[2]!);
    if (unset) defaults.set(inputs[0]!, plain(unset[1]!));
    inputs.forEach((input, i) => {
      claims.set(input, {
        modes: ['all'],
        ...(defaults.has(input) ? { default: defaults.get(input)! } : {}),
        ...(variables[i] ? { fallbacks: variables[i] } : {}),
      });
    });
  }
  return claims;
}

const inputsTable = modeTable('Inputs', true);
const outputsTable = modeTable('Outputs', false);
const credentials = credentialsTable();

describe('README and action.yml agree', () => {
  it('on which inputs and outputs there are', () => {
    assert.deepEqual([...new Set([...inputsTable.keys(), ...credentials.keys()])].sort(), Object.keys(action.inputs).sort());
    assert.deepEqual([...outputsTable.keys()].sort(), Object.keys(action.outputs).sort());
  });

  it('every description in action.yml names its modes', () => {
    const unnamed = [...Object.entries(action.inputs), ...Object.entries(action.outputs)].filter(([, e]) => !actionClaim(e).modes).map(([n]) => n);
    assert.deepEqual(unnamed, []);
  });

  it('on the modes, the default and the OS_* fallbacks of every input', () => {
    const differ: string[] = [];
    for (const [source, claims] of [
      ['Inputs', inputsTable],
      ['Credentials', credentials],
    ] as const) {
      for (const [name, claim] of claims) {
        const yml = actionClaim(action.inputs[name]!);
        for (const field of ['modes', 'default', 'fallbacks'] as const) {
          if (JSON.stringify(claim[field]) !== JSON.stringify(yml[field]))
            differ.push(`${name} ${field}: README (${source}) ${JSON.stringify(claim[field])}, action.yml ${JSON.stringify(yml[field])}`);
        }
      }
    }
    assert.deepEqual(differ, []);
  });

  it('on the modes of every output', () => {
    const differ = [...outputsTable].filter(([name, claim]) => JSON.stringify(claim.modes) !== JSON.stringify(actionClaim(action.outputs[name]!).modes));
    assert.deepEqual(
      differ.map(([name, claim]) => `${name}: README ${claim.modes}, action.yml ${actionClaim(action.outputs[name]!).modes}`),
      [],
    );
  });

  it("on the logins: where the README lists them under create, it lists all of action.yml's", () => {
    const logins = /How to log in: ([^(]+?) \(/.exec(action.inputs['auth-type']!.description)![1]!.split(/,\s*|\s+or\s+/);
    const create = readme.split(/^### /m).find((s) => s.startsWith('create\n'))!;
    const step1 = /^1\. [\s\S]*?(?=^2\. )/m.exec(create)![0].replace(/application credential/g, 'application-credential');
    const named = logins.filter((login) => new RegExp(`\\b${login}\\b`).test(step1));
    assert.ok(named.length === 0 || named.length === logins.length, `create's step 1 names only ${named.join(', ')} of ${logins.join(', ')}:\n${step1}`);
  });
});
