// Diagnosis: the evidence behind the misses, and what the proposed fixes would change, measured
// on the local cloud without touching src/ or dist/ (variants are built into temporary dirs).
//   1. start-up: the action as built vs (when dist/ has it) the same bundle without
//      source-map-support's register vs a minified build of the same src/ (ncc -m) vs the
//      proposed fixes (bench/lib/variant.ts): spawn -> first request;
//   2. the delete step by build (wall, peak RSS), and where its allocations come from;
//   3. prune memory: peak heap vs RSS and where the allocations come from;
//   4. the HTTP client: the same N DELETEs (4 in flight) through the action's got client
//      (src/openstack/client.ts createHttp), Node's built-in fetch, or node:http with a keep-alive
//      agent: peak RSS and time.
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalCloud } from '../../test/local-cloud/cloud.ts';
import { analyzeAllocations, type AllocBreakdown } from '../lib/alloc-profile.ts';
import { now } from '../lib/clock.ts';
import { CountingProxy } from '../lib/proxy.ts';
import { median } from '../lib/stats.ts';
import { setDist, tail, timedRun } from '../lib/timed-run.ts';
import { buildVariant, hasSourceMapSupport, mappedBuild, removeVariant, type Variant } from '../lib/variant.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const PRELOAD = join(ROOT, 'bench/diagnose/preload.mjs');
const MANAGED_BY = 'openstack-snapshot-action';

export interface BuildTiming {
  label: string;
  bytes: number;
  firstRequestMs: number[];
}
export interface DiagnoseResult {
  startup: BuildTiming[];
  deleteStep: { label: string; wallMs: number[]; rssKb: number[] }[];
  deleteAlloc?: AllocBreakdown;
  prune?: {
    n: number;
    peak: Record<string, number>;
    rssKb: number;
    dryRunRssKb: number;
    alloc: AllocBreakdown;
    /** The same prune under V8 heap flags: how much of the peak is the heap's sizing, not live data. */
    heapFlags?: { flags: string; code: number; wallMs: number; rssKb: number; heapTotal: number; heapUsed: number }[];
  };
  httpClients: { client: string; n: number; wallMs: number; rssKb: number }[];
  notes: string[];
}

const credentials = (cloud: LocalCloud, authUrl = cloud.authUrl) => ({
  OS_AUTH_URL: authUrl,
  OS_USERNAME: cloud.demo.username,
  OS_PASSWORD: cloud.demo.password,
  OS_PROJECT_NAME: cloud.demo.projectName,
  OS_USER_DOMAIN_NAME: 'Default',
  OS_PROJECT_DOMAIN_NAME: 'Default',
  OS_REGION_NAME: 'GRA7',
});

function seed(cloud: LocalCloud, serverId: string, n: number, tag: string) {
  const base = Date.now() - 60_000;
  return cloud.addImages('GRA7', n, (i) => ({
    name: `web-1-${tag}-${i}`,
    createdAt: new Date(base - i * 60_000),
    properties: { managed_by: MANAGED_BY, source_instance_id: serverId, image_type: 'snapshot', instance_uuid: serverId },
  }));
}

/** The frozen dist without `import './sourcemap-register.cjs'` (source-map-support), same code otherwise. */
function withoutSourceMapSupport(distPath: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'osa-bench-nosms-'));
  cpSync(join(distPath, '..'), dir, { recursive: true });
  const file = join(dir, 'index.js');
  const text = readFileSync(file, 'utf8');
  writeFileSync(file, text.replace(/^import '\.\/sourcemap-register\.cjs';/, ''));
  return file;
}

/** src/ built by ncc with --minify and no source map (what `npm run build` would give with -m). */
function minifiedBuild(log: (s: string) => void): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'osa-bench-min-'));
  try {
    execFileSync(join(ROOT, 'node_modules/.bin/ncc'), ['build', 'src/index.ts', '-o', dir, '-m', '-q'], { cwd: ROOT, stdio: 'pipe' });
    return join(dir, 'index.js');
  } catch (error) {
    log(`  minified build failed: ${(error as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

async function peakRss(cmd: string, args: string[], env: Record<string, string>): Promise<{ wallMs: number; rssKb: number; code: number; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'osa-bench-rss-'));
  const t = now();
  const child = spawn('/usr/bin/time', ['-f', '%M', '-o', join(dir, 'rss'), cmd, ...args], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  const code = await new Promise<number>((done) => child.on('close', (c) => done(c ?? -1)));
  const wallMs = now() - t;
  const rssKb = Number(readFileSync(join(dir, 'rss'), 'utf8').trim().split('\n').pop());
  rmSync(dir, { recursive: true, force: true });
  return { wallMs, rssKb, code, stderr };
}

export async function diagnose(
  distPath: string,
  opts: { startupRuns: number; pruneN: number; deleteRuns: number; fixed?: string },
  log: (s: string) => void,
): Promise<DiagnoseResult> {
  const result: DiagnoseResult = { startup: [], deleteStep: [], httpClients: [], notes: [] };
  const sms = hasSourceMapSupport(distPath);
  const noSms = sms ? withoutSourceMapSupport(distPath) : undefined;
  const minified = minifiedBuild(log);
  const mapped = mappedBuild(distPath);
  if (mapped.dir) result.notes.push('dist/ has no source map: the allocation profiles ran on a twin built from src/ with --source-map --no-source-map-register (the same code, plus a map)');
  let ownFixed: Variant | undefined;
  let fixed = opts.fixed;
  if (!fixed) {
    try {
      ownFixed = buildVariant();
      fixed = ownFixed.path;
    } catch (error) {
      result.notes.push(`the proposed-fixes build failed: ${(error as Error).message}`);
    }
  }
  const variants: [string, string][] = [
    [sms ? 'as built (dist/, with source-map-support)' : 'as built (dist/)', distPath],
    ...(noSms ? ([['same bundle without source-map-support', noSms]] as [string, string][]) : []),
    ...(minified ? ([['minified build of src/ (ncc -m), no source map', minified]] as [string, string][]) : []),
    ...(fixed ? ([['proposed fixes (see --what-if)', fixed]] as [string, string][]) : []),
  ];
  const previous = setDist(distPath);
  const cloud = await LocalCloud.start({ snapshotSeconds: 2 });
  const proxy = await CountingProxy.start([{ service: 'local', host: '127.0.0.1', port: Number(new URL(cloud.url).port) }]);
  try {
    const server = cloud.addServer({ region: 'GRA7', name: 'web-1' });

    // 1. Start-up, interleaved so that load changes hit every variant alike.
    const env = credentials(cloud, proxy.rewrite(cloud.authUrl));
    const missing = { mode: 'delete', 'image-id': '00000000-0000-4000-8000-000000000000' };
    const firsts = new Map<string, number[]>(variants.map(([l]) => [l, []]));
    for (const [, path] of variants) {
      setDist(path);
      await timedRun(missing, env); // warm the page cache
    }
    for (let i = 0; i < opts.startupRuns; i += 1) {
      for (const [label, path] of variants) {
        setDist(path);
        const from = proxy.records.length;
        const run = await timedRun(missing, env);
        const first = proxy.records[from];
        if (run.code !== 0 || !first) throw new Error(`start-up variant "${label}" failed: ${tail(run)}`);
        firsts.get(label)!.push(first.t - run.spawnAt);
      }
    }
    result.startup = variants.map(([label, path]) => ({ label, bytes: statSync(path).size, firstRequestMs: firsts.get(label)! }));
    log(`  start-up: ${result.startup.map((v) => `${v.label}: ${median(v.firstRequestMs).toFixed(0)} ms`).join('; ')}`);

    // 2. The delete step (an existing image: GET, DELETE, GET until 404).
    const steps = variants.filter(([label]) => !label.startsWith('minified'));
    const del = new Map<string, { wallMs: number[]; rssKb: number[] }>(steps.map(([l]) => [l, { wallMs: [], rssKb: [] }]));
    for (let i = 0; i < opts.deleteRuns; i += 1) {
      for (const [label, path] of steps) {
        setDist(path);
        const [image] = seed(cloud, server.id, 1, `del-${i}`);
        const run = await timedRun({ mode: 'delete', 'image-id': image!.id }, credentials(cloud), { memory: true });
        if (run.code !== 0) throw new Error(`delete step (${label}) failed: ${tail(run)}`);
        del.get(label)!.wallMs.push(run.exitAt - run.spawnAt);
        del.get(label)!.rssKb.push(run.maxRssKb ?? Number.NaN);
      }
    }
    result.deleteStep = steps.map(([label]) => ({ label, ...del.get(label)! }));
    setDist(distPath);
    {
      const dir = mkdtempSync(join(tmpdir(), 'osa-bench-alloc-'));
      const [image] = seed(cloud, server.id, 1, 'del-alloc');
      const run = await timedRun(
        { mode: 'delete', 'image-id': image!.id },
        { ...credentials(cloud), NODE_OPTIONS: `--import=${PRELOAD}`, BENCH_ALLOC_OUT: join(dir, 'alloc.json') },
        { script: mapped.path },
      );
      if (run.code === 0 && existsSync(join(dir, 'alloc.json'))) result.deleteAlloc = analyzeAllocations(join(dir, 'alloc.json'), mapped.mapPath, join(mapped.path, '..'));
      rmSync(dir, { recursive: true, force: true });
    }
    log(`  delete step: ${result.deleteStep.map((v) => `${v.label}: ${median(v.wallMs).toFixed(0)} ms, ${(median(v.rssKb) / 1024).toFixed(0)} MB`).join('; ')}`);

    // 3. Prune memory: peaks by kind, dry-run (listing + plan only), where the allocations come from.
    if (opts.pruneN > 0) {
      const n = opts.pruneN;
      const pruneInputs = { mode: 'prune', instance: server.id, 'keep-last': '1', 'max-deletes': String(n), 'rate-limit': '0' };
      const dir = mkdtempSync(join(tmpdir(), 'osa-bench-prunemem-'));
      const clear = () => {
        for (const image of cloud.images('GRA7')) if (image.properties.source_instance_id === server.id) cloud.world.deleteImage(cloud.world.findImage(image.id)!);
      };
      clear();
      seed(cloud, server.id, n, 'dry');
      const dry = await timedRun({ ...pruneInputs, 'dry-run': 'true' }, credentials(cloud), { memory: true });
      const watched = await timedRun(pruneInputs, { ...credentials(cloud), NODE_OPTIONS: `--import=${PRELOAD}`, BENCH_MEMWATCH_OUT: join(dir, 'peak.json') }, { memory: true });
      clear();
      seed(cloud, server.id, n, 'alloc');
      const profiled = await timedRun(pruneInputs, { ...credentials(cloud), NODE_OPTIONS: `--import=${PRELOAD}`, BENCH_ALLOC_OUT: join(dir, 'alloc.json') }, { script: mapped.path });
      clear();
      // Live data or the heap's sizing? The same prune with V8's young generation (and old generation) capped.
      const heapFlags: NonNullable<NonNullable<DiagnoseResult['prune']>['heapFlags']> = [];
      for (const flags of ['--max-semi-space-size=1', '--max-semi-space-size=1 --max-old-space-size=64']) {
        seed(cloud, server.id, n, `flags-${heapFlags.length}`);
        const out = join(dir, `flags-${heapFlags.length}.json`);
        const run = await timedRun(pruneInputs, { ...credentials(cloud), NODE_OPTIONS: `${flags} --import=${PRELOAD}`, BENCH_MEMWATCH_OUT: out }, { memory: true });
        const peak = existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as Record<string, number>) : {};
        heapFlags.push({ flags, code: run.code, wallMs: run.exitAt - run.spawnAt, rssKb: run.maxRssKb ?? Number.NaN, heapTotal: peak.heapTotal ?? Number.NaN, heapUsed: peak.heapUsed ?? Number.NaN });
        clear();
      }
      if (dry.code === 0 && watched.code === 0 && profiled.code === 0) {
        result.prune = {
          n,
          peak: JSON.parse(readFileSync(join(dir, 'peak.json'), 'utf8')) as Record<string, number>,
          rssKb: watched.maxRssKb ?? Number.NaN,
          dryRunRssKb: dry.maxRssKb ?? Number.NaN,
          alloc: analyzeAllocations(join(dir, 'alloc.json'), mapped.mapPath, join(mapped.path, '..')),
          heapFlags,
        };
        log(
          `  prune ${n}: peak RSS ${((watched.maxRssKb ?? 0) / 1024).toFixed(0)} MB (dry-run ${((dry.maxRssKb ?? 0) / 1024).toFixed(0)} MB), ${(result.prune.alloc.totalBytes / 1048576).toFixed(0)} MB allocated; ${heapFlags.map((h) => `${h.flags}: ${(h.rssKb / 1024).toFixed(0)} MB`).join(', ')}`,
        );
      } else {
        result.notes.push(`prune memory runs failed: ${tail(dry)} ${tail(watched)} ${tail(profiled)}`);
      }
      rmSync(dir, { recursive: true, force: true });

      // 4. The same DELETEs through got (the action's client) and through fetch.
      const token = await fetch(`${cloud.authUrl}/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          auth: {
            identity: { methods: ['password'], password: { user: { name: cloud.demo.username, domain: { name: 'Default' }, password: cloud.demo.password } } },
            scope: { project: { name: cloud.demo.projectName, domain: { name: 'Default' } } },
          },
        }),
      }).then((r) => r.headers.get('x-subject-token')!);
      const glance = `${cloud.url}/glance/GRA7`;
      for (const client of ['got', 'fetch', 'http', 'got', 'fetch', 'http']) {
        const ids = seed(cloud, server.id, n, `ab-${client}-${result.httpClients.length}`).map((i) => i.id);
        const idsFile = join(tmpdir(), `osa-bench-ids-${process.pid}`);
        writeFileSync(idsFile, ids.join('\n'));
        const run = await peakRss(process.execPath, [join(ROOT, 'bench/diagnose/delete-loop.ts'), client, glance, token, idsFile, '4'], { PATH: process.env.PATH ?? '' });
        rmSync(idsFile, { force: true });
        if (run.code !== 0) throw new Error(`delete-loop ${client}: exit ${run.code}: ${run.stderr.slice(-500)}`);
        result.httpClients.push({ client, n, wallMs: run.wallMs, rssKb: run.rssKb });
        clear();
      }
      log(`  ${n} DELETEs: ${result.httpClients.map((c) => `${c.client} ${(c.rssKb / 1024).toFixed(0)} MB ${(c.wallMs / 1000).toFixed(1)} s`).join(', ')}`);
    }
  } finally {
    setDist(previous);
    await proxy.stop();
    await cloud.stop();
    if (noSms) rmSync(join(noSms, '..'), { recursive: true, force: true });
    if (mapped.dir) rmSync(mapped.dir, { recursive: true, force: true });
    if (minified) rmSync(join(minified, '..'), { recursive: true, force: true });
    removeVariant(ownFixed);
  }
  return result;
}
