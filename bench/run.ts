// `npm run bench`: the action against the real loopback OpenStack and the project's local cloud,
// compared with Debian's `openstack` CLI and with the fewest requests that can do the job.
// Writes the raw results (JSON, git-ignored) and bench/results/REPORT.md. See bench/README.md.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { coldStart } from './cases/cold-start.ts';
import { createDelete } from './cases/create-delete.ts';
import { detection } from './cases/detection.ts';
import { fleetLocal, fleetReal, type FleetRun } from './cases/fleet.ts';
import { capturedFleet, capturedReal, PHASES } from './cases/captured.ts';
import { glanceCapacity, pruneLocal, pruneReal, type PruneRun } from './cases/prune.ts';
import { verifyBench } from './cases/verify.ts';
import { cliVersion } from './lib/cli.ts';
import { now } from './lib/clock.ts';
import { closeReal, computeMode, openReal, realAvailable, REGION, SERVER_NAME, type RealCloud } from './lib/real.ts';
import { freezeBuild, releaseBuilds } from './lib/timed-run.ts';
import { renderReport, type BenchResults } from './report.ts';

const ROOT = resolve(import.meta.dirname, '..');
const CASES = ['cold-start', 'create-delete', 'detection', 'prune-local', 'prune-real', 'fleet-local', 'fleet-real', 'captured', 'verify'] as const;
type Case = (typeof CASES)[number];
const ALIASES: Record<string, Case[]> = {
  all: [...CASES],
  real: ['create-delete', 'prune-real', 'fleet-real', 'captured', 'verify'],
  local: ['cold-start', 'detection', 'prune-local', 'fleet-local'],
};

const HELP = `npm run bench [-- options]
  --quick              fewer runs and smaller scales: about 3 minutes
  --cases LIST         comma-separated: ${CASES.join(', ')} (or all, real, local)
  --dist PATH          a build of the action to measure (a directory with index.js, or label=PATH);
                       repeat it to compare builds side by side in one run (default: dist)
  --no-build           do not run \`npm run -s build\` first (it rebuilds dist/ from src/)
  --runs N             create-delete and verify iterations (default 5, quick 2)
  --cold-runs N        cold-start rounds: one run of each build and one of Node alone (default 15, quick 10)
  --long S,S,…         long snapshots on the local cloud, seconds (default 30,60,120; quick 30)
  --short-runs N       4.4-second snapshots on the local cloud (default 5, quick 2)
  --prune-local N,N…   images in scope on the local cloud, one run per scale (default 500,5000; quick 1000)
  --prune-real N       images in scope on the real cloud (default 500, quick 100)
  --fleet-local N      servers of the local fleet (default 50, quick 20)
  --fleet-real N       servers of the real fleet, booted and deleted (default 10, quick 5)
  --keep-server        keep ${SERVER_NAME} at the end (it is reused when present)
  --out FILE           the raw results (default bench/results/results.json, git-ignored)
  --report FILE        the report (default bench/results/REPORT.md)
  --report-only        rebuild the report from --out`;

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    cases: { type: 'string', default: 'all' },
    dist: { type: 'string', multiple: true },
    'no-build': { type: 'boolean', default: false },
    runs: { type: 'string' },
    'cold-runs': { type: 'string' },
    long: { type: 'string' },
    'short-runs': { type: 'string' },
    'prune-local': { type: 'string' },
    'prune-real': { type: 'string' },
    'fleet-local': { type: 'string' },
    'fleet-real': { type: 'string' },
    'keep-server': { type: 'boolean', default: false },
    out: { type: 'string', default: join(ROOT, 'bench/results/results.json') },
    report: { type: 'string', default: join(ROOT, 'bench/results/REPORT.md') },
    'report-only': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const log = (line: string) => console.log(line);
const outFile = resolve(values.out);
const reportFile = resolve(values.report);
if (values['report-only']) {
  writeFileSync(reportFile, renderReport(JSON.parse(readFileSync(outFile, 'utf8')) as BenchResults));
  log(`wrote ${reportFile}`);
  process.exit(0);
}

const quick = values.quick;
const int = (v: string | undefined, normal: number, short: number) => (v === undefined ? (quick ? short : normal) : Number.parseInt(v, 10));
const cases = new Set<Case>(
  values.cases.split(',').flatMap((c) => {
    const name = c.trim();
    if (ALIASES[name]) return ALIASES[name];
    if ((CASES as readonly string[]).includes(name)) return [name as Case];
    console.error(`unknown case "${name}"\n\n${HELP}`);
    process.exit(2);
  }),
);
const opts = {
  runs: int(values.runs, 5, 2),
  coldRuns: int(values['cold-runs'], 15, 10),
  long: (values.long ?? (quick ? '30' : '30,60,120')).split(',').filter(Boolean).map(Number),
  shortRuns: int(values['short-runs'], 5, 2),
  pruneLocal: (values['prune-local'] ?? (quick ? '1000' : '500,5000')).split(',').filter(Boolean).map(Number),
  pruneReal: int(values['prune-real'], 500, 100),
  fleetLocal: int(values['fleet-local'], 50, 20),
  fleetReal: int(values['fleet-real'], 10, 5),
};
const distSpecs = values.dist ?? ['dist'];

const t0 = now();
const results: BenchResults = {
  meta: {
    startedAt: new Date().toISOString(),
    durationS: 0,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    node: process.version,
    cli: '',
    cpus: cpus().length,
    loadAvg: [loadavg(), []],
    builds: [],
  },
  skipped: [],
  errors: [],
};
function save(): void {
  results.meta.durationS = (now() - t0) / 1000;
  results.meta.loadAvg[1] = loadavg();
  mkdirSync(dirname(outFile), { recursive: true });
  writeFileSync(outFile, `${JSON.stringify(results)}\n`);
  writeFileSync(reportFile, renderReport(results));
}

/** One case: its failure is recorded and the others still run. */
async function step<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
  const t = now();
  log(`\n== ${name}`);
  try {
    return await fn();
  } catch (error) {
    results.errors.push(`${name}: ${((error as Error).stack ?? String(error)).split('\n').slice(0, 6).join('\n')}`);
    log(`!! ${results.errors.at(-1)}`);
    return undefined;
  } finally {
    log(`== ${name}: ${((now() - t) / 1000).toFixed(0)} s`);
    save();
  }
}

let real: RealCloud | undefined;
let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupted) process.exit(130);
  interrupted = true;
  log(`\n${signal}: cleaning up (again to quit at once)`);
  void (real ? closeReal(real, values['keep-server'], log) : Promise.resolve()).finally(() => {
    save();
    releaseBuilds();
    process.exit(130);
  });
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

try {
  if (!values['no-build'] && distSpecs.some((s) => resolve(s.replace(/^[^=]*=/, '')) === join(ROOT, 'dist'))) {
    log('== npm run -s build');
    execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  const builds = distSpecs.map(freezeBuild);
  const [baseline] = builds as [(typeof builds)[0]];
  results.meta.builds = builds.map(({ label, source, bytes }) => ({ label, source, bytes }));
  results.meta.cli = await cliVersion();
  log(
    `builds: ${builds.map((b) => `${b.label} (${b.source}, ${b.bytes} bytes)`).join('; ')}; ${results.meta.cli}; load ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );

  if (cases.has('create-delete') || cases.has('prune-real') || cases.has('fleet-real') || cases.has('captured') || cases.has('verify')) {
    const why = realAvailable();
    if (why) results.skipped.push(`real-cloud cases (create-delete, prune-real): ${why}`);
    else real = await step('real cloud: proxy and bench server', () => openReal(log));
    if (real) results.meta.real = { server: SERVER_NAME, serverId: real.serverId, region: REGION, snapshotMode: computeMode() ?? 'unknown' };
  }
  // Alone: nothing else may compete for the CPU while start-up is timed.
  if (cases.has('cold-start')) results.coldStart = await step(`cold start (${opts.coldRuns} runs per build)`, () => coldStart(builds, opts.coldRuns, log));
  // The local-cloud detection runs mostly sleep between polls: they run alongside create-delete.
  const detecting = cases.has('detection')
    ? step(`detection on the local cloud (${opts.long.join('/')} s once, 4.4 s ×${opts.shortRuns})`, () => detection(builds, opts.long, opts.shortRuns, log))
    : undefined;
  if (cases.has('create-delete') && real) {
    const r = real;
    results.createDelete = await step(`create + wait + delete on the real cloud (${opts.runs} iterations)`, () => createDelete(r, builds, opts.runs, log));
  }
  if (detecting) results.detection = await detecting;
  if (cases.has('verify') && real) {
    const r = real;
    results.verify = await step(`verify on the real cloud (${opts.runs} iterations)`, () => verifyBench(baseline, r, opts.runs, log));
  }
  const prune: PruneRun[] = [];
  if (cases.has('prune-real') && real) {
    const r = real;
    prune.push(
      ...((await step(`prune ${opts.pruneReal} on the real cloud`, () =>
        pruneReal(baseline, r, opts.pruneReal, ['action-unthrottled', 'cli', 'action-ceiling'], log),
      )) ?? []),
    );
    results.glanceCapacity = await step("Glance's own DELETE rate (real cloud)", () => glanceCapacity(r, quick ? 50 : 100, log));
  }
  if (cases.has('prune-local')) {
    prune.push(
      ...((await step(`prune ${opts.pruneLocal.join(' and ')} on the local cloud`, () =>
        pruneLocal(baseline, opts.pruneLocal, ['action-unthrottled', 'cli', 'got-alone'], log),
      )) ?? []),
    );
    results.skipped.push('local prune at the 10 req/s ceiling: it would only measure the clock; the ceiling is measured on the real cloud');
  }
  if (prune.length) results.prune = prune;
  const fleets: FleetRun[] = [];
  if (cases.has('fleet-real') && real) {
    const r = real;
    const run = await step(`a fleet of ${opts.fleetReal} on the real cloud`, () => fleetReal(baseline, r, opts.fleetReal, log));
    if (run) fleets.push(run);
  }
  if (cases.has('fleet-local')) {
    const run = await step(`a fleet of ${opts.fleetLocal} on the local cloud`, () => fleetLocal(baseline, opts.fleetLocal, log));
    if (run) fleets.push(run);
  }
  if (fleets.length) results.fleets = fleets;
  if (cases.has('captured')) {
    const r = real;
    const single = r
      ? await step(`wait: captured on the real cloud (capture ${PHASES.captureS} s, upload ${PHASES.uploadS} s)`, () => capturedReal(r, quick ? 1 : 2, log))
      : undefined;
    const fleet = await step('wait: captured, a fleet of 10 on the local cloud', () => capturedFleet(10, log));
    results.captured = { phases: PHASES, real: single ?? [], ...(fleet ? { fleet } : {}) };
  }
} finally {
  if (real) await closeReal(real, values['keep-server'], log).catch((e: Error) => log(`cleanup: ${e.message}`));
  releaseBuilds();
  save();
}
log(`\nwrote ${reportFile} and ${outFile} in ${((now() - t0) / 1000).toFixed(0)} s`);
process.exit(results.errors.length ? 1 : 0);
