// The workflows this repository runs (.github/workflows) and those its documents give users to copy
// (the ```yaml blocks of the Markdown files at the root), as workflow objects a linter can check.
// A document's block is often a fragment (a job, a step list "as above"): it is wrapped into a
// whole workflow, the way a user pastes it into one.
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';

export const ROOT = resolve(import.meta.dirname, '../..');
/** How the documents spell this action in `uses:`; the repository's own workflows use `./`. */
export const THIS_ACTION = /^(?:\.\/?|your-org\/openstack-snapshot-action@.+)$/;

type Obj = Record<string, unknown>;
export type Step = Obj & { id?: string; uses?: string; run?: string; with?: Obj; env?: Obj; if?: string };
export type Job = Obj & { steps?: Step[]; strategy?: Obj };
export interface Workflow {
  /** Where it comes from: `README.md:24` or `.github/workflows/ci.yml`. */
  where: string;
  /** true for a repository workflow (its paths are this repository's), false for a document's example. */
  own: boolean;
  /** The workflow as YAML text, whole (a fragment wrapped). */
  text: string;
  jobs: Record<string, Job>;
}

const isObj = (value: unknown): value is Obj => typeof value === 'object' && value !== null && !Array.isArray(value);

/** The repository's workflows. */
export function repositoryWorkflows(root = ROOT): Workflow[] {
  const dir = join(root, '.github/workflows');
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => {
      const text = readFileSync(join(dir, name), 'utf8');
      return { where: `.github/workflows/${name}`, own: true, text, jobs: (parse(text) as { jobs: Record<string, Job> }).jobs };
    });
}

/** Every ```yaml block of the root's Markdown files, as a whole workflow. */
export function documentWorkflows(root = ROOT): Workflow[] {
  return readdirSync(root)
    .filter((name) => name.endsWith('.md'))
    .sort()
    .flatMap((name) => yamlBlocks(readFileSync(join(root, name), 'utf8')).map(({ line, text }) => asWorkflow(`${name}:${line}`, text)));
}

function yamlBlocks(markdown: string): { line: number; text: string }[] {
  const blocks: { line: number; text: string }[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    if (lines[i] !== '```yaml') continue;
    const start = i + 1;
    while (i + 1 < lines.length && lines[i + 1] !== '```') i += 1;
    blocks.push({ line: start, text: lines.slice(start, i + 1).join('\n') });
    i += 1;
  }
  return blocks;
}

/** A block as the workflow a user pastes it into: a step list or a job's keys become a job, jobs get a trigger. */
function asWorkflow(where: string, block: string): Workflow {
  const indent = Math.min(
    ...block
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => /^ */.exec(l)![0].length),
  );
  const value: unknown = parse(
    block
      .split('\n')
      .map((l) => l.slice(indent))
      .join('\n'),
  );
  let workflow: Obj;
  if (Array.isArray(value)) workflow = { jobs: { example: { 'runs-on': 'ubuntu-latest', steps: value } } };
  else if (isObj(value) && 'jobs' in value) workflow = value;
  else if (isObj(value) && 'steps' in value) workflow = { jobs: { example: { 'runs-on': 'ubuntu-latest', ...value } } };
  else throw new Error(`${where}: a yaml block that is neither a workflow, a job nor a step list`);
  workflow = { on: 'workflow_dispatch', ...workflow };
  const jobs = workflow.jobs as Record<string, Job>;
  if (!Array.isArray(value)) return { where, own: false, text: stringify(workflow), jobs };
  // A step list continues the job "above": the steps it names but does not have are that job's
  // steps of this action (`steps.snapshot.outputs.snapshot-id`).
  const steps = jobs.example!.steps!;
  const have = new Set(steps.map((s) => s.id));
  const named = [...new Set([...block.matchAll(/\bsteps\.([\w-]+)\./g)].map((m) => m[1]!))].filter((id) => !have.has(id));
  jobs.example!.steps = [...named.map((id) => ({ id, uses: 'your-org/openstack-snapshot-action@v1' })), ...steps];
  return { where, own: false, text: stringify(workflow), jobs };
}

/** Every `steps.<id>.outputs.<name>` in the strings of a value. */
export function outputReferences(value: unknown): { step: string; output: string }[] {
  return [...JSON.stringify(value ?? null).matchAll(/\bsteps\.([\w-]+)\.outputs\.([\w-]+)/g)].map((m) => ({ step: m[1]!, output: m[2]! }));
}
