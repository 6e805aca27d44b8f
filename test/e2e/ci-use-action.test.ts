// CI's `uses: ./` job, run here step by step as the runner would on a machine where the checkout,
// Node 24 and `npm ci` are done: its scripts with bash, its `uses: ./` steps with the built
// dist/index.js, each step's outputs passed on through `${{ steps.<id>.outputs.<name> }}`. A job
// that starts something the repository no longer has, or reads an output the action no longer
// sets, fails here and not only on GitHub.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';

import { parseOutputs, runAction } from '../support/run-action.ts';
import { ROOT, type Step } from '../support/workflows.ts';

const job = (parse(readFileSync(join(ROOT, '.github/workflows/ci.yml'), 'utf8')) as { jobs: Record<string, { steps: Step[] }> }).jobs['use-action']!;
/** What a machine that ran `npm test` has already done. */
const DONE = (step: Step) => /^actions\/(checkout|setup-node)@/.test(step.uses ?? '') || step.run === 'npm ci --no-audit --no-fund';

const work = mkdtempSync(join(tmpdir(), 'osa-ci-job-'));
for (const entry of ['scripts', 'test', 'node_modules', 'package.json']) symlinkSync(join(ROOT, entry), join(work, entry));
const groups: number[] = [];
after(() => {
  // What a step left running (the local cloud), as the runner ends a job's orphan processes.
  for (const group of groups) {
    try {
      process.kill(-group, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  rmSync(work, { recursive: true, force: true });
});

/** `${{ steps.<id>.outputs.<name> }}` and nothing else: another expression is not what this job is known to use. */
function evaluate(value: unknown, outputs: Map<string, Record<string, string>>): string {
  return String(value).replace(/\$\{\{\s*(.*?)\s*\}\}/g, (_, expression: string) => {
    const ref = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(expression);
    assert.ok(ref, `an expression this test does not evaluate: ${expression}`);
    return outputs.get(ref[1]!)?.[ref[2]!] ?? '';
  });
}

async function runScript(script: string, env: Record<string, string>): Promise<{ code: number; stdout: string; outputs: Record<string, string> }> {
  const outputFile = join(work, `output-${groups.length}`);
  writeFileSync(outputFile, '');
  const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', script], {
    cwd: work,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    // Node 24 first on the PATH, as setup-node leaves it.
    env: { PATH: [dirname(process.execPath), process.env.PATH].join(delimiter), HOME: process.env.HOME ?? work, GITHUB_OUTPUT: outputFile, ...env },
  });
  groups.push(child.pid!);
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stdout += chunk));
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? -1)));
  return { code, stdout, outputs: parseOutputs(readFileSync(outputFile, 'utf8')) };
}

describe('ci.yml: the `uses: ./` job', () => {
  it('runs to the end against the local cloud: each step succeeds', async () => {
    const outputs = new Map<string, Record<string, string>>();
    const ran: string[] = [];
    for (const step of job.steps.filter((s) => !DONE(s))) {
      assert.equal(step.if, undefined, 'a step with if: is not what this test runs');
      const name = String(step.name ?? step.id ?? step.uses);
      const env = Object.fromEntries(Object.entries(step.env ?? {}).map(([k, v]) => [k, evaluate(v, outputs)]));
      let result: { code: number; stdout: string; outputs: Record<string, string> };
      if (step.uses === './') {
        const inputs = Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, evaluate(v, outputs)]));
        result = await runAction(inputs, env);
      } else {
        assert.equal(typeof step.run, 'string', `${name}: neither run: nor uses: ./`);
        result = await runScript(step.run!, env);
      }
      assert.equal(result.code, 0, `step "${name}" failed:\n${result.stdout}`);
      if (step.id) outputs.set(step.id, result.outputs);
      ran.push(name);
    }
    assert.deepEqual(ran, ["Start the project's local OpenStack", 'Snapshot before a (pretend) deploy', 'Check the outputs', 'Delete it again']);
    assert.equal(outputs.get('snapshot')?.['snapshot-status'], 'active');
  });
});
