// `npm run bench`: the benchmarks of the action against the real loopback OpenStack (and, for the
// scale cases, the project's local cloud), compared with Debian's `openstack` CLI. Writes
// bench/results/REPORT.md and bench/results/results.json. See bench/README.md.
//
//   npm run bench                       all cases, default runs (about 9 minutes)
//   npm run bench -- --quick            fewer runs, smaller scales (about 3 minutes)
//   npm run bench -- --cases cold-start,prune-local     only these cases
//   npm run bench -- --what-if          also a build with the proposed fixes (patched copy of src/)
//   npm run bench -- --report-only      rebuild REPORT.md from results.json
//
// Cases: cold-start, create-delete, detection (local cloud, long + short snapshots), prune-local,
// prune-real, diagnose (the evidence behind misses; not in --quick).
// Aliases: real = create-delete,prune-real; local = cold-start,detection,prune-local,diagnose.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { coldStart } from './cases/cold-start.ts';
import { createDelete } from './cases/create-delete.ts';
import { diagnose } from './cases/diagnose.ts';
import { detectionLocal } from './cases/detection-local.ts';
import { glanceCapacity, pruneLocal, pruneReal, type CapacityProbe, type PruneRun, type PruneWay } from './cases/prune.ts';
import { cliVersion } from './lib/cli.ts';
import { now } from './lib/clock.ts';
import { closeReal, computeMode, openReal, realAvailable, REGION, SERVER_NAME, type RealCloud } from './lib/real.ts';
import { freezeDist, releaseDist } from './lib/timed-run.ts';
import { buildVariant, hasSourceMapSupport, mappedBuild, removeVariant, type Variant } from './lib/variant.ts';
import { renderReport, type BenchResults } from './report.ts';

const ROOT = resolve(import.meta.dirname, '..');
const ALL_CASES = ['cold-start', 'create-delete', 'detection', 'prune-local', 'prune-real', 'diagnose'] as const;
type Case = (typeof ALL_CASES)[number];
const ALIASES: Record<string, Case[]> = { all: [...ALL_CASES], real: ['create-delete', 'prune-real'], local: ['cold-start', 'detection', 'prune-local', 'diagnose'] };

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    full: { type: 'boolean', default: false },
    cases: { type: 'string' },
    runs: { type: 'string' },
    'cold-runs': { type: 'string' },
    long: { type: 'string' },
    'short-runs': { type: 'string' },
    'prune-local': { type: 'string' },
    'prune-real': { type: 'string' },
    'keep-server': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    out: { type: 'string' },
    'report-only': { type: 'boolean', default: false },
    'what-if': { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
  strict: true,
});

const HELP = `npm run bench [-- options]
  --quick              fewer runs and smaller scales (create-delete 2 runs, long snapshot 30 s only,
                       prune 1,000 local / 100 real, no diagnose): about 3 minutes
  --full               also the local prune at the 10 req/s ceiling over all N (5,000: ~8 more minutes)
  --cases LIST         comma-separated: ${ALL_CASES.join(', ')} (or all, real, local)
  --runs N             create-delete iterations (default 5, quick 2)
  --cold-runs N        cold-start runs (default 15, quick 10)
  --long S,S,…         long snapshot durations on the local cloud (default 30,60,120; quick 30)
  --short-runs N       4-second snapshots on the local cloud (default 5, quick 2)
  --prune-local N      images in scope on the local cloud (default 5000, quick 1000)
  --prune-real N       images in scope on the real cloud (default 500, quick 100)
  --keep-server        keep ${SERVER_NAME} at the end (it is reused when present)
  --no-build           measure dist/ as it is (default: npm run -s build first)
  --out DIR            where REPORT.md and results.json go (default bench/results)
  --report-only        rebuild REPORT.md from DIR/results.json
  --what-if            also measure the action built from a patched copy of src/ with the fixes
                       this benchmark proposes (bench/lib/variant.ts), beside the action as built
                       (create-delete gets a 4th way, detection a second set): about +1 minute`;

if (values.help) {
  console.log(HELP);
  process.exit(0);
}

const outDir = resolve(values.out ?? join(ROOT, 'bench/results'));
const log = (line: string) => console.log(line);
const int = (v: string | undefined, d: number) => (v === undefined ? d : Number.parseInt(v, 10));

if (values['report-only']) {
  const results = JSON.parse(readFileSync(join(outDir, 'results.json'), 'utf8')) as BenchResults;
  writeFileSync(join(outDir, 'REPORT.md'), renderReport(results));
  log(`wrote ${join(outDir, 'REPORT.md')}`);
  process.exit(0);
}

const quick = values.quick;
const cases = new Set<Case>(
  (values.cases ?? (quick ? 'cold-start,create-delete,detection,prune-local,prune-real' : 'all')).split(',').flatMap((c) => {
    const name = c.trim();
    if (ALIASES[name]) return ALIASES[name];
    if ((ALL_CASES as readonly string[]).includes(name)) return [name as Case];
    console.error(`unknown case "${name}"\n\n${HELP}`);
    process.exit(2);
  }),
);
const opts = {
  runs: int(values.runs, quick ? 2 : 5),
  coldRuns: int(values['cold-runs'], quick ? 10 : 15),
  long: (values.long ?? (quick ? '30' : '30,60,120')).split(',').filter(Boolean).map(Number),
  shortRuns: int(values['short-runs'], quick ? 2 : 5),
  pruneLocal: int(values['prune-local'], quick ? 1000 : 5000),
  pruneReal: int(values['prune-real'], quick ? 100 : 500),
};

const t0 = now();
const results: BenchResults = {
  meta: {
    startedAt: new Date().toISOString(),
    finishedAt: '',
    durationS: 0,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    quick,
    cases: [...cases],
    node: process.version,
    cli: '',
    cpus: cpus().length,
    loadAvgStart: loadavg(),
    loadAvgEnd: [],
    dist: { bytes: 0, mapBytes: 0, sha256: '' },
  },
  skipped: [],
  errors: [],
};

function save(): void {
  results.meta.finishedAt = new Date().toISOString();
  results.meta.durationS = (now() - t0) / 1000;
  results.meta.loadAvgEnd = loadavg();
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'results.json'), `${JSON.stringify(results, null, 1)}\n`);
  writeFileSync(join(outDir, 'REPORT.md'), renderReport(results));
}

async function step<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
  const t = now();
  log(`\n== ${name}`);
  try {
    const value = await fn();
    log(`== ${name}: ${((now() - t) / 1000).toFixed(0)} s`);
    return value;
  } catch (error) {
    const message = `${name}: ${(error as Error).stack ?? error}`;
    results.errors.push(message.split('\n').slice(0, 6).join('\n'));
    log(`!! ${message}`);
    return undefined;
  } finally {
    save();
  }
}

let real: RealCloud | undefined;
let variant: Variant | undefined;
let interrupted = false;
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupted) process.exit(130);
  interrupted = true;
  log(`\n${signal}: cleaning up (again to quit at once)`);
  void (real ? closeReal(real, values['keep-server'], log) : Promise.resolve()).finally(() => {
    save();
    releaseDist();
    process.exit(130);
  });
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

try {
  if (!values['no-build']) {
    log('== npm run -s build');
    execFileSync('npm', ['run', '-s', 'build'], { cwd: ROOT, stdio: 'inherit' });
  }
  const dist = freezeDist();
  results.meta.dist = {
    bytes: dist.bytes,
    mapBytes: dist.mapBytes,
    sha256: createHash('sha256').update(readFileSync(dist.path)).digest('hex'),
    sourceMapSupport: hasSourceMapSupport(dist.path),
  };
  results.meta.cli = await cliVersion();
  log(`dist/index.js ${dist.bytes} bytes (frozen copy ${dist.path}); ${results.meta.cli}; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);

  if (values['what-if'] && (cases.has('create-delete') || cases.has('detection'))) {
    variant = await step('what-if build (patched copy of src/)', async () => buildVariant());
    if (variant) {
      results.meta.whatIf = { description: variant.description, patches: variant.applied };
    }
  }

  const wantsReal = cases.has('create-delete') || cases.has('prune-real');
  if (wantsReal) {
    const available = realAvailable();
    if (!available.ok) {
      results.skipped.push(`real-cloud cases (create-delete, prune-real): ${available.why}`);
      cases.delete('create-delete');
      cases.delete('prune-real');
    } else {
      real = await step('real cloud: proxy and bench server', () => openReal(randomBytes(4).toString('hex'), log));
      if (!real) {
        cases.delete('create-delete');
        cases.delete('prune-real');
      } else {
        results.meta.real = { server: SERVER_NAME, serverId: real.serverId, region: REGION, snapshotMode: computeMode() ?? 'unknown' };
      }
    }
  }

  // Alone: nothing else may compete for the CPU while start-up is timed.
  if (cases.has('cold-start')) {
    results.coldStart = await step(`cold start (${opts.coldRuns} runs)`, async () => {
      // The profiles need a source map: dist/'s own, or a twin built from src/ with one.
      const mapped = mappedBuild(dist.path);
      try {
        return await coldStart(opts.coldRuns, dist, log, 3, mapped);
      } finally {
        if (mapped.dir) rmSync(mapped.dir, { recursive: true, force: true });
      }
    });
  }

  // The local-cloud detection runs mostly sleep between polls: they run alongside create-delete.
  const detection = cases.has('detection')
    ? step(`detection delay on the local cloud (${opts.long.join('/')} s once, 4 s ×${opts.shortRuns})`, () => detectionLocal(opts.long, opts.shortRuns, log, variant?.path))
    : undefined;
  if (cases.has('create-delete') && real) {
    const r = real;
    results.createDelete = await step(`create + wait + delete on the real cloud (${opts.runs} iterations)`, () => createDelete(r, opts.runs, log, variant?.path));
  }
  if (detection) results.detectionLocal = await detection;

  const prune: { local: PruneRun[]; real: PruneRun[]; errors: string[]; capacity?: CapacityProbe[] } = { local: [], real: [], errors: [] };
  if (cases.has('prune-real') && real) {
    const r = real;
    const ways: PruneWay[] = ['action-unthrottled', 'cli', 'action-ceiling'];
    const out = await step(`prune ${opts.pruneReal} on the real cloud`, () => pruneReal(r, opts.pruneReal, ways, log));
    if (out) prune.real = out;
    else prune.errors.push('real-cloud prune failed: see Errors');
    results.prune = prune;
    const capacity = await step("Glance's own DELETE capacity (real cloud)", () => glanceCapacity(r, quick ? 50 : 100, log));
    if (capacity) prune.capacity = capacity;
  }
  if (cases.has('prune-local')) {
    const ways: PruneWay[] = ['action-unthrottled', 'cli', ...(values.full ? (['action-ceiling'] as PruneWay[]) : [])];
    const out = await step(`prune ${opts.pruneLocal} on the local cloud`, () => pruneLocal(opts.pruneLocal, ways, log));
    if (out) prune.local = out;
    else prune.errors.push('local-cloud prune failed: see Errors');
    if (!values.full) results.skipped.push(`local prune at the 10 req/s ceiling (${opts.pruneLocal} images would take ${Math.round(opts.pruneLocal / 10)} s): run with --full; the ceiling is measured on the real cloud`);
    results.prune = prune;
  }
  if (cases.has('diagnose')) {
    results.diagnose = await step('diagnosis (local cloud: build variants, allocation profiles, HTTP clients)', () =>
      diagnose(dist.path, { startupRuns: quick ? 5 : 10, pruneN: opts.pruneLocal, deleteRuns: 5, ...(variant ? { fixed: variant.path } : {}) }, log),
    );
  }
} finally {
  if (real) await closeReal(real, values['keep-server'], log).catch((e: Error) => log(`cleanup: ${e.message}`));
  releaseDist();
  removeVariant(variant);
  save();
}
log(`\nwrote ${join(outDir, 'REPORT.md')} and results.json in ${((now() - t0) / 1000).toFixed(0)} s`);
process.exit(results.errors.length ? 1 : 0);
