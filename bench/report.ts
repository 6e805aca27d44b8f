// Turns the raw results (results.json) into bench/results/REPORT.md: the headline table (ready for
// the README), then every figure with its median, range and run count, the goals, and the
// evidence for each miss. `node bench/run.ts --report-only` rebuilds it from results.json.
import type { ColdStartResult } from './cases/cold-start.ts';
import { preciseCloudWork, type CreateDeleteResult, type Way, type WayRun } from './cases/create-delete.ts';
import type { DiagnoseResult } from './cases/diagnose.ts';
import { worstCase, type DetectionLocalResult } from './cases/detection-local.ts';
import type { CapacityProbe, PruneRun } from './cases/prune.ts';
import { fmtMs, fmtPct, fmtS, fmtSummary, fmtX, median, summarize } from './lib/stats.ts';

export interface BenchResults {
  meta: {
    startedAt: string;
    finishedAt: string;
    durationS: number;
    command: string;
    quick: boolean;
    cases: string[];
    node: string;
    cli: string;
    cpus: number;
    loadAvgStart: number[];
    loadAvgEnd: number[];
    dist: { bytes: number; mapBytes: number; sha256: string; sourceMapSupport?: boolean };
    real?: { server: string; serverId: string; region: string; snapshotMode?: string; note?: string };
    whatIf?: { description: string; patches: string[] };
  };
  coldStart?: ColdStartResult;
  createDelete?: CreateDeleteResult;
  detectionLocal?: DetectionLocalResult;
  prune?: { local: PruneRun[]; real: PruneRun[]; errors: string[]; capacity?: CapacityProbe[] };
  diagnose?: DiagnoseResult;
  skipped: string[];
  errors: string[];
}

type Verdict = 'met' | 'missed' | 'n/a';
const mark = (v: Verdict) => (v === 'met' ? '✅ met' : v === 'missed' ? '❌ missed' : '– n/a');

// ------------------------------------------------------------------------------------------------
// Derived figures

interface Decomposition {
  startup: number;
  beforeCreateImage: number;
  createImage: number;
  cloudAfterCreateImage: number;
  detection: number;
  createExit: number;
  deleteStartup: number;
  deleteRequests: number;
  deleteExit: number;
}

const CLIENT_PHASES: (keyof Decomposition)[] = ['startup', 'detection', 'createExit', 'deleteStartup', 'deleteExit'];

/** What the way adds over the floor in the phases that are the client's own (medians per phase). */
export function clientExtra(sm: CreateDeleteSummary, way: Way): number {
  const sum = (w: Way) => CLIENT_PHASES.reduce((t, k) => t + median(sm.byWay[w].decomposition.map((d) => d[k])), 0);
  return sum(way) - sum('floor');
}

function decompose(r: WayRun): Decomposition {
  const c = r.create.records;
  const d = r.delete.records;
  const createImage = c.find((x) => x.service === 'compute' && x.method === 'POST' && /\/action$/.test(x.path))!;
  const mid = (r.activeLo + r.activeHi) / 2;
  const lastDelete = d.reduce((m, x) => Math.max(m, x.tEnd), 0);
  return {
    startup: c[0]!.t - r.create.spawnAt,
    beforeCreateImage: createImage.t - c[0]!.t,
    createImage: createImage.tEnd - createImage.t,
    cloudAfterCreateImage: mid - createImage.tEnd,
    detection: r.firstActiveSeenAt - mid,
    createExit: r.createDoneAt - r.firstActiveSeenAt,
    deleteStartup: d[0]!.t - r.delete.spawnAt,
    deleteRequests: lastDelete - d[0]!.t,
    deleteExit: r.delete.exitAt - lastDelete,
  };
}

export interface CreateDeleteSummary {
  byWay: Record<Way, { wall: number[]; glanceWork: number[]; overhead: number[]; overheadFine: number[]; requestsCreate: number[]; requestsDelete: number[]; polls: number[]; decomposition: Decomposition[] }>;
  /** Pair by pair, same iteration. */
  actionOverFloor: number[];
  fixOverFloor: number[];
  fixOverFloorFine: number[];
  cliOverFloor: number[];
  actionOverFloorFine: number[];
  cliOverFloorFine: number[];
  cliWallOverAction: number[];
  detection: { upper: number[]; lower: number[]; tightUpper: number[]; tightLower: number[]; seenToExit: number[]; polls: number[] };
  cliDetection: { tightUpper: number[]; tightLower: number[] };
}

export function summarizeCreateDelete(cd: CreateDeleteResult): CreateDeleteSummary {
  const ways: Way[] = ['action', 'cli', 'floor', 'action-fix'];
  const byWay = Object.fromEntries(
    ways.map((w) => {
      const runs = cd.runs.filter((r) => r.way === w);
      return [
        w,
        {
          wall: runs.map((r) => r.wallMs),
          glanceWork: runs.map((r) => r.glanceWorkMs),
          overhead: runs.map((r) => r.overheadMs),
          // Recomputed from the raw records, so that an older results.json gets today's definition.
          overheadFine: runs.map((r) => r.wallMs - preciseCloudWork(r)),
          requestsCreate: runs.map((r) => r.requests.create),
          requestsDelete: runs.map((r) => r.requests.delete),
          polls: runs.map((r) => r.polls),
          decomposition: runs.map(decompose),
        },
      ];
    }),
  ) as CreateDeleteSummary['byWay'];
  const pairs = (a: Way, b: Way, f: (x: WayRun, y: WayRun) => number) =>
    [...new Set(cd.runs.map((r) => r.iteration))].flatMap((i) => {
      const x = cd.runs.find((r) => r.way === a && r.iteration === i);
      const y = cd.runs.find((r) => r.way === b && r.iteration === i);
      return x && y ? [f(x, y)] : [];
    });
  const actions = cd.runs.filter((r) => r.way === 'action');
  const clis = cd.runs.filter((r) => r.way === 'cli');
  return {
    byWay,
    actionOverFloor: pairs('action', 'floor', (x, y) => x.overheadMs / y.overheadMs),
    fixOverFloor: pairs('action-fix', 'floor', (x, y) => x.overheadMs / y.overheadMs),
    fixOverFloorFine: pairs('action-fix', 'floor', (x, y) => (x.wallMs - preciseCloudWork(x)) / (y.wallMs - preciseCloudWork(y))),
    cliOverFloor: pairs('cli', 'floor', (x, y) => x.overheadMs / y.overheadMs),
    actionOverFloorFine: pairs('action', 'floor', (x, y) => (x.wallMs - preciseCloudWork(x)) / (y.wallMs - preciseCloudWork(y))),
    cliOverFloorFine: pairs('cli', 'floor', (x, y) => (x.wallMs - preciseCloudWork(x)) / (y.wallMs - preciseCloudWork(y))),
    cliWallOverAction: pairs('cli', 'action', (x, y) => x.wallMs / y.wallMs),
    detection: {
      upper: actions.map((r) => r.createDoneAt - r.glanceUpdatedAt),
      lower: actions.map((r) => r.createDoneAt - (r.glanceUpdatedAt + 1000)),
      tightUpper: actions.map((r) => r.createDoneAt - r.activeLo),
      tightLower: actions.map((r) => r.createDoneAt - r.activeHi),
      seenToExit: actions.map((r) => r.createDoneAt - r.firstActiveSeenAt),
      polls: actions.map((r) => r.polls),
    },
    cliDetection: {
      tightUpper: clis.map((r) => r.createDoneAt - r.activeLo),
      tightLower: clis.map((r) => r.createDoneAt - r.activeHi),
    },
  };
}

const s = (xs: number[], f: (v: number) => string) => fmtSummary(summarize(xs), f);
const WAY_LABEL: Record<Way, string> = { action: 'the action', cli: '`openstack` CLI', floor: 'floor', 'action-fix': 'what-if build (proposed fixes)' };
const sec = (v: number) => fmtS(v);
const ms = (v: number) => fmtMs(v);
const x2 = (v: number, digits = 2) => fmtX(v, digits);
const mb = (kb: number) => (Number.isFinite(kb) ? `${(kb / 1024).toFixed(0)} MB` : 'n/a');

/** The biggest start-up costs from the CPU profiles, for the cold-start miss. */
function coldStartWhy(c: ColdStartResult): string {
  const cats = new Map<string, number[]>();
  for (const prof of c.profiles) for (const [k, v] of prof.parts) cats.set(k, [...(cats.get(k) ?? []), v]);
  const top = [...cats.entries()]
    .map(([k, v]) => [k, median(v)] as const)
    .filter(([k]) => !/idle|GC|node internals/.test(k))
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([k, v]) => `${k.replace(/ \(.*$/, '')} ${v.toFixed(0)} ms`);
  return `the action takes ${fmtMs(c.summary.firstRequest.median - c.summary.nodeFloor.median)} more than Node alone on this machine (whose load moves both); the profile puts it in ${top.join(', ')}: the size of the bundle (got, undici via @actions/core's http-client, @octokit via @actions/github) more than the action's own code`;
}

/** The best DELETE rate seen on the real cloud: the capacity probe or the action's own unthrottled run. */
function bestDeleteRate(pr: NonNullable<BenchResults['prune']>): number {
  const rates = [...(pr.capacity ?? []).map((c) => c.perSecond), ...pr.real.filter((x) => x.way === 'action-unthrottled').map((x) => x.deletesPerSecond)];
  return Math.max(...rates.filter(Number.isFinite));
}

// ------------------------------------------------------------------------------------------------
// Goals

interface Goal {
  name: string;
  goal: string;
  measured: string;
  verdict: Verdict;
  why?: string;
}

export function goals(r: BenchResults): Goal[] {
  const sms = r.meta.dist.sourceMapSupport ?? true;
  const out: Goal[] = [];
  if (r.createDelete && r.createDelete.runs.length) {
    const cd = summarizeCreateDelete(r.createDelete);
    const ratio = median(cd.actionOverFloor);
    const fine = median(cd.actionOverFloorFine);
    const md = (w: Way, k: keyof Decomposition) => median(cd.byWay[w].decomposition.map((d) => d[k]));
    const extra = clientExtra(cd, 'action');
    const floorFine = median(cd.byWay.floor.overheadFine);
    const detect = md('action', 'detection') - md('floor', 'detection');
    const starts = md('action', 'startup') + md('action', 'deleteStartup');
    const exits = md('action', 'createExit') + md('action', 'deleteExit');
    out.push({
      name: 'create + wait + delete: overhead vs the floor',
      goal: '≤ 1.15× the floor',
      measured: `${x2(ratio)} by Glance timestamps (${x2(fine)} by ms-precision timing), median of ${cd.actionOverFloor.length} pairs`,
      verdict: Number.isFinite(ratio) ? (ratio <= 1.15 && fine <= 1.15 ? 'met' : 'missed') : 'n/a',
      why:
        ratio > 1.15 || fine > 1.15
          ? `${ratio <= 1.15 ? `the Glance-timestamp figure alone would pass, but each run's is ±1 s; narrowed below 1 s it is ${x2(fine)}; ` : ''}in the phases that are the client's own, the action adds ${fmtMs(extra)} to the floor's ${fmtS(floorFine)} (${x2((floorFine + extra) / floorFine)}; the budget is ${fmtMs(0.15 * floorFine)}): detection ${fmtMs(detect)} (the action's poll interval; the floor polls every 50 ms), two process start-ups ${fmtMs(starts)}, process exits ${fmtMs(exits)}${sms ? " (the delete step's ~100 ms is source-map-support formatting the stack of the expected 404, see Diagnosis)" : ''}; the requests themselves cost the same`
          : undefined,
    });
    if (cd.fixOverFloor.length) {
      const fr = median(cd.fixOverFloor);
      const modelled = (median(cd.byWay.floor.overheadFine) + clientExtra(cd, 'action-fix')) / median(cd.byWay.floor.overheadFine);
      out.push({
        name: 'what-if build (proposed fixes): overhead vs the floor',
        goal: '≤ 1.15× the floor',
        measured: `${x2(fr)} by Glance timestamps (${x2(median(cd.fixOverFloorFine))} by ms-precision timing), median of ${cd.fixOverFloor.length} pairs; client's own phases +${fmtMs(clientExtra(cd, 'action-fix'))} → ${x2((median(cd.byWay.floor.overheadFine) + clientExtra(cd, 'action-fix')) / median(cd.byWay.floor.overheadFine))}`,
        verdict: fr <= 1.15 && median(cd.fixOverFloorFine) <= 1.15 && modelled <= 1.15 ? 'met' : 'missed',
        why: `not the action as built: a patched copy of src/, see the report header; judged on both the pairs and the client's-own-phases figure, which is steadier`,
      });
    }
    const up = median(cd.detection.tightUpper);
    const mid = median(cd.detection.tightUpper.map((u, i) => (u + cd.detection.tightLower[i]!) / 2));
    out.push({
      name: 'detection delay, short snapshot (real cloud, ~4 s)',
      goal: '≤ 1 s',
      measured: `${fmtS(median(cd.detection.tightLower))}–${fmtS(up)} (bounds, medians; midpoint ${fmtS(mid)}), ${median(cd.detection.polls)} polls`,
      verdict: Number.isFinite(up) ? (up <= 1000 ? 'met' : mid <= 1000 ? 'met' : 'missed') : 'n/a',
      why: up > 1000 && mid <= 1000 ? 'met by the midpoint estimate; the conservative bound exceeds 1 s' : undefined,
    });
  }
  if (r.detectionLocal) {
    if (r.detectionLocal.short.length) {
      const d = median(r.detectionLocal.short.map((x) => x.delayMs));
      const worst = Math.max(...r.detectionLocal.short.map((x) => worstCase(x, 0.5, 10, true).delayMs));
      out.push({
        name: `detection delay, short snapshot (local cloud, ${r.detectionLocal.short[0]!.snapshotSeconds} s, exact)`,
        goal: '≤ 1 s',
        measured: `${fmtS(d)} median of ${r.detectionLocal.short.length}; worst phase of the schedule ${fmtS(worst)}`,
        verdict: d <= 1000 ? 'met' : 'missed',
        why: worst > 1000 ? 'met for the typical phase; a snapshot that turns active just after a poll waits a whole poll interval plus the request and the exit' : undefined,
      });
    }
    for (const run of r.detectionLocal.long) {
      out.push({
        name: `detection delay, ${run.snapshotSeconds} s snapshot (local cloud, exact)`,
        goal: '≤ 10 % of the elapsed time',
        measured: `${fmtS(run.delayMs)} = ${fmtPct(run.ratio, 1)} of ${fmtS(run.elapsedMs, 0)}, ${run.polls} polls (n=1); worst phase ${fmtPct(worstCase(run, 10).ratio, 1)}`,
        verdict: run.ratio <= 0.1 ? 'met' : 'missed',
        why: run.ratio <= 0.1 && worstCase(run, 10).ratio > 0.1 ? 'in the measured phase; the worst phase exceeds 10 % by the request and exit time' : undefined,
      });
    }
  }
  if (r.coldStart) {
    const m = r.coldStart.summary.firstRequest.median;
    out.push({
      name: 'cold start (spawn → first request at the server)',
      goal: '≤ 150 ms median',
      measured: `${fmtMs(m)} median of ${r.coldStart.runs} (Node's own floor ${fmtMs(r.coldStart.summary.nodeFloor.median)})`,
      verdict: m <= 150 ? 'met' : 'missed',
      why: m > 150 ? coldStartWhy(r.coldStart) : undefined,
    });
  }
  if (r.prune) {
    for (const where of ['real', 'local'] as const) {
      const runs = r.prune[where];
      const un = runs.find((x) => x.way === 'action-unthrottled');
      const cli = runs.find((x) => x.way === 'cli');
      const ceil = runs.find((x) => x.way === 'action-ceiling');
      if (ceil) {
        const limit = (ceil.deleted / 10) * 1000;
        const small = ceil.n < 500;
        out.push({
          name: `prune ${ceil.n} (${where}) at the 10 req/s ceiling`,
          goal: '≤ 1.10 × N ÷ ceiling',
          measured: `${fmtS(ceil.wallMs, 1)} vs ${fmtS(limit, 1)} for ${ceil.deleted} deletions (${x2(ceil.wallMs / limit)}), peak ${ceil.peakPerSecond} req in any 1 s (n=1)`,
          verdict: small ? 'n/a' : ceil.wallMs <= 1.1 * limit ? 'met' : 'missed',
          why: small ? 'the goal is set at 500 images; at this scale the fixed second or two of start-up, authentication and listing weighs more than 10 %' : undefined,
        });
      }
      if (un && cli) {
        const ratio = cli.wallMs / un.wallMs;
        const best = where === 'real' && r.prune.capacity?.length ? bestDeleteRate(r.prune) : Number.NaN;
        const ceilingRatio = cli.wallMs / ((cli.deleted / best) * 1000);
        out.push({
          name: `prune ${un.n} (${where}) unthrottled vs the CLI`,
          goal: '≥ 5× faster',
          measured: `${fmtS(un.wallMs, 1)} vs ${fmtS(cli.wallMs, 1)}: ${x2(ratio, 1)} (n=1)`,
          verdict: ratio >= 5 ? 'met' : 'missed',
          why:
            ratio < 5 && Number.isFinite(ceilingRatio)
              ? `not the action's fault: this Glance (one eventlet process, workers=0, on a shared 2-CPU machine; ${fmtPct(un.serverBusy?.['glance-gra7'] ?? Number.NaN)} of a core busy during the action's run) takes at most ~${best.toFixed(0)} DELETEs/s, so any client is at most ~${x2(ceilingRatio, 1)} faster than the CLI here; the action ran at ${un.deletesPerSecond.toFixed(0)} DELETEs/s vs the CLI's ${cli.deletesPerSecond.toFixed(0)}`
              : undefined,
        });
      }
      for (const run of runs.filter((x) => x.way !== 'cli')) {
        const d = r.diagnose;
        const gotShare = d?.prune ? (d.prune.alloc.byOwner.find(([k]) => k === 'got')?.[1] ?? 0) / d.prune.alloc.totalBytes : Number.NaN;
        const httpRss = d?.httpClients.filter((c) => c.client === 'http').map((c) => c.rssKb) ?? [];
        const gotRss = d?.httpClients.filter((c) => c.client === 'got').map((c) => c.rssKb) ?? [];
        out.push({
          name: `peak memory, prune ${run.n} (${where}, ${run.way.replace('action-', '')})`,
          goal: '≤ 150 MB',
          measured: mb(run.maxRssKb),
          verdict: run.maxRssKb / 1024 <= 150 ? 'met' : 'missed',
          why:
            run.maxRssKb / 1024 > 150 && d?.prune
              ? `not a leak but the allocation rate: the run allocates ${((d.prune.alloc.totalBytes / Math.max(1, d.prune.n - 1)) / 1024).toFixed(0)} KB per deletion, ${fmtPct(gotShare)} of it in got's request machinery, and V8 grows its heap to ${(d.prune.peak.heapTotal! / 1048576).toFixed(0)} MB to keep up (dry-run: ${mb(d.prune.dryRunRssKb)}); the same ${d.prune.n} DELETEs take ${mb(median(gotRss))} through got and ${mb(median(httpRss))} through node:http (see Diagnosis)`
              : undefined,
        });
      }
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------
// Markdown

export function headline(r: BenchResults): string {
  const rows: string[] = ['| | the action | `openstack` CLI | floor | goal |', '|---|---|---|---|---|'];
  const g = goals(r);
  const verdictOf = (prefix: string) => g.filter((x) => x.name.startsWith(prefix)).map((x) => x.verdict);
  const tick = (vs: Verdict[]) => (vs.length === 0 ? '' : vs.every((v) => v === 'met') ? ' ✅' : vs.some((v) => v === 'missed') ? ' ❌' : '');
  if (r.createDelete?.runs.length) {
    const cd = summarizeCreateDelete(r.createDelete);
    const m = (w: Way, k: 'wall' | 'overhead') => fmtS(median(cd.byWay[w][k]), 1);
    rows.push(`| create + wait + delete, ~4 s snapshot (median of ${cd.byWay.action.wall.length}) | ${m('action', 'wall')} | ${m('cli', 'wall')} | ${m('floor', 'wall')} | |`);
    rows.push(
      `| … overhead beyond the cloud's work (× floor: by Glance's 1-s timestamps / narrowed below 1 s) | ${m('action', 'overhead')} (${x2(median(cd.actionOverFloor))} / ${x2(median(cd.actionOverFloorFine))}) | ${m('cli', 'overhead')} (${x2(median(cd.cliOverFloor))} / ${x2(median(cd.cliOverFloorFine))}) | ${m('floor', 'overhead')} | ≤ 1.15× floor${tick(verdictOf('create + wait'))} |`,
    );
    rows.push(
      `| … API requests: create / delete | ${median(cd.byWay.action.requestsCreate)} / ${median(cd.byWay.action.requestsDelete)} | ${median(cd.byWay.cli.requestsCreate)} / ${median(cd.byWay.cli.requestsDelete)} | ${median(cd.byWay.floor.requestsCreate)} / ${median(cd.byWay.floor.requestsDelete)} (50 ms polls) | |`,
    );
    const lo = median(cd.detection.tightLower);
    const up = median(cd.detection.tightUpper);
    rows.push(
      `| detection delay (active → exit), ~4 s snapshot | ${fmtS(lo)}–${fmtS(up)}, ${median(cd.detection.polls)} polls | ${fmtS(median(cd.cliDetection.tightLower))}–${fmtS(median(cd.cliDetection.tightUpper))} | | ≤ 1 s${tick(verdictOf('detection delay, short'))} |`,
    );
  }
  if (r.detectionLocal?.long.length) {
    const parts = r.detectionLocal.long.map((x) => `${x.snapshotSeconds} s: ${fmtPct(x.ratio, 1)} (${x.polls} polls)`).join('; ');
    rows.push(`| detection delay, long snapshots (local cloud) | ${parts} | | | ≤ 10 %${tick(g.filter((x) => /detection delay, \d+ s/.test(x.name)).map((x) => x.verdict))} |`);
  }
  if (r.coldStart) {
    rows.push(
      `| cold start: spawn → first request (median of ${r.coldStart.runs}) | ${fmtMs(r.coldStart.summary.firstRequest.median)} (Node alone: ${fmtMs(r.coldStart.summary.nodeFloor.median)}) | | | ≤ 150 ms${tick(verdictOf('cold start'))} |`,
    );
    rows.push(`| dist/index.js | ${(r.coldStart.distBytes / 1e6).toFixed(2)} MB | | | |`);
  }
  if (r.prune) {
    for (const where of ['real', 'local'] as const) {
      const runs = r.prune[where];
      const un = runs.find((x) => x.way === 'action-unthrottled');
      const cli = runs.find((x) => x.way === 'cli');
      const ceil = runs.find((x) => x.way === 'action-ceiling');
      const n = (un ?? cli ?? ceil)?.n;
      if (!n) continue;
      const label = where === 'real' ? 'real cloud' : 'local cloud';
      if (un || cli) {
        rows.push(
          `| prune ${n} (${label}), \`rate-limit: 0\` vs one \`openstack image delete\` of ${n - 1} IDs | ${un ? `${fmtS(un.wallMs, 1)}, ${un.requests} req, ${mb(un.maxRssKb)}` : ''}${un && cli ? ` (${x2(cli.wallMs / un.wallMs, 1)} faster)` : ''} | ${cli ? `${fmtS(cli.wallMs, 1)}, ${cli.requests} req, ${mb(cli.maxRssKb)}` : ''} | | ≥ 5× faster${tick(g.filter((x) => x.name.startsWith(`prune ${n} (${where}) unthrottled`)).map((x) => x.verdict))}${g.some((x) => x.name.startsWith(`prune ${n} (${where}) unthrottled`) && x.verdict === 'missed' && x.why?.startsWith("not the action's fault")) ? ' (Glance-bound, see Goals)' : ''}, ≤ 150 MB${tick(g.filter((x) => x.name.startsWith(`peak memory, prune ${n} (${where}, unthrottled`)).map((x) => x.verdict))} |`,
        );
      }
      if (ceil) {
        rows.push(
          `| prune ${n} (${label}) at the default 10 req/s | ${fmtS(ceil.wallMs, 1)} (limit ${fmtS((ceil.deleted / 10) * 1000, 1)}), ${ceil.requests} req | | | ≤ 1.1 × limit${tick(g.filter((x) => x.name === `prune ${ceil.n} (${where}) at the 10 req/s ceiling`).map((x) => x.verdict))} |`,
        );
      }
    }
  }
  return rows.join('\n');
}

export function renderReport(r: BenchResults): string {
  const lines: string[] = [];
  const p = (...xs: string[]) => lines.push(...xs);
  p('# Benchmarks: openstack-snapshot-action', '');
  p(
    `Generated by \`${r.meta.command}\` on ${r.meta.startedAt} (${r.meta.durationS.toFixed(0)} s${r.meta.quick ? ', **--quick**: fewer runs and smaller scales than the goals ask' : ''}). ` +
      `Node ${r.meta.node}, ${r.meta.cli}, ${r.meta.cpus} CPUs, load average ${r.meta.loadAvgStart.map((x) => x.toFixed(2)).join(' ')} at the start and ${r.meta.loadAvgEnd.map((x) => x.toFixed(2)).join(' ')} at the end ` +
      `(the loopback cloud and other people's tests share the machine: every figure is a median, and ratios are taken pair by pair within one iteration). ` +
      `dist/index.js: ${r.meta.dist.bytes.toLocaleString('en')} bytes, sha256 ${r.meta.dist.sha256.slice(0, 12)}.`,
    '',
  );
  if (r.meta.whatIf) p(`**What-if build** (\`--what-if\`): the action built from a patched copy of src/ — ${r.meta.whatIf.description}:`, ...r.meta.whatIf.patches.map((x) => `- ${x}`), '');
  if (r.meta.real) p(`Real cloud: the OpenStack Zed loopback cloud, region ${r.meta.real.region}, user demo, server \`${r.meta.real.server}\` (${r.meta.real.serverId}), nova-compute snapshot mode ${r.meta.real.snapshotMode ?? '?'}${r.meta.real.note ? `; ${r.meta.real.note}` : ''}.`, '');
  if (r.skipped.length) p('**Skipped:**', ...r.skipped.map((x) => `- ${x}`), '');
  if (r.errors.length) p('**Errors:**', ...r.errors.map((x) => `- ${x.replace(/\n/g, ' ')}`), '');

  p('## Headline', '', headline(r), '');
  p('## Goals', '', '| goal | target | measured | result |', '|---|---|---|---|');
  for (const g of goals(r)) p(`| ${g.name} | ${g.goal} | ${g.measured} | ${mark(g.verdict)}${g.why ? ` (${g.why})` : ''} |`);
  p('');

  if (r.createDelete?.runs.length) renderCreateDelete(r.createDelete, p);
  if (r.detectionLocal) renderDetection(r.detectionLocal, p);
  if (r.coldStart) renderColdStart(r.coldStart, p);
  if (r.prune) renderPrune(r.prune, p);
  if (r.diagnose) renderDiagnose(r.diagnose, p);
  p('## Method', '');
  p(
    '- **Counting** is done at the server: on the real cloud by a counting reverse proxy (`bench/lib/proxy.ts`, one listener per upstream port; the action and the CLI get `OS_AUTH_URL` pointing at it, and it rewrites every upstream URL in responses, Keystone\'s catalog included, so all later requests go through it too); on the local cloud by its own request log. Counts include authentication and version discovery.',
    '- **Timing**: the action runs as the runner runs it (`test/support/run-action.ts`, with `node:child_process.spawn` wrapped to time the spawn and the `exit` event, `bench/lib/timed-run.ts`) from a frozen copy of `dist/`; the CLI is `/usr/bin/openstack` (Debian python3-openstackclient) with the same `OS_*` variables. One clock (`performance.timeOrigin + performance.now()`) is used for spawns, exits and proxy arrivals.',
    "- **The cloud's own work** is Glance's `updated_at − created_at` of the active image (as the issue defines it); both have 1-second precision (MariaDB DATETIME), so each run's figure is off by up to ±1 s. A finer figure (\"ms-precision\") narrows both ends: the creation lies within createImage's request (its arrival and answer at the proxy) and within `[created_at, created_at + 1 s)`; the active moment lies within `[max(updated_at, arrival of the last GET that still saw it not active), min(updated_at + 1 s, the first answer that said active)]`; midpoints are used. Verdicts need both figures to agree.",
    '- **The floor** is the fewest requests that can do the job, from this already-running process: authenticate, find the server by name, createImage (microversion 2.45), GET the image every 50 ms until active, authenticate again (as a second step would), DELETE.',
    '- **Detection delay** on the real cloud: from the active moment (bounds above) to the exit of the action\'s create process. Long snapshots are measured on the local cloud, whose snapshot job ends at an exact millisecond (`snapshotSeconds`), rather than restarting the shared nova-compute with another `OSL_SNAPSHOT_DELAY`: the poll schedule is the same code.',
    '- **Cold start**: spawn → the first request\'s arrival at the proxy in front of the local cloud (a delete of a missing image). "Node alone" is the same for `node -e "fetch(url)"`. Three extra runs under `--cpu-prof` attribute the time, through `dist/index.js.map`, to what ran.',
    '- **Prune at scale**: N images of the bench server in scope, `keep-last: 1` (N − 1 deletions), `max-deletes` ≥ N, default `concurrency` (4); peak memory is `/usr/bin/time`\'s max RSS of the process. Real-cloud images are private 1-byte images made with POST /v2/images + PUT data, with the properties the action prunes by.',
    '',
  );
  return lines.join('\n');
}

function renderCreateDelete(cd: CreateDeleteResult, p: (...xs: string[]) => void): void {
  const sm = summarizeCreateDelete(cd);
  p('## create + wait + delete (real cloud)', '');
  p(`${cd.iterations} iterations; in each, the action, the CLI and the floor one after the other (order rotated). Median (min–max, n).`, '');
  const ways: Way[] = ['action', 'cli', 'floor', ...(sm.byWay['action-fix'].wall.length ? (['action-fix'] as Way[]) : [])];
  const head = (first: string) => p(`| ${first} | ${ways.map((w) => WAY_LABEL[w]).join(' | ')} |`, `|---|${ways.map(() => '---').join('|')}|`);
  head('');
  const row = (label: string, k: keyof CreateDeleteSummary['byWay']['action'], f: (v: number) => string) =>
    p(`| ${label} | ${ways.map((w) => s(sm.byWay[w][k] as number[], f)).join(' | ')} |`);
  row('wall time', 'wall', sec);
  row("cloud's work (Glance updated_at − created_at)", 'glanceWork', (v) => fmtS(v, 0));
  row('overhead = wall − cloud\'s work', 'overhead', sec);
  row("overhead, with the cloud's work narrowed below 1 s", 'overheadFine', sec);
  row('requests, create', 'requestsCreate', (v) => String(v));
  row('requests, delete', 'requestsDelete', (v) => String(v));
  row('GETs of the image until active', 'polls', (v) => String(v));
  p('');
  p(
    `Pair by pair: action overhead ÷ floor overhead ${s(sm.actionOverFloor, x2)} (ms-precision: ${s(sm.actionOverFloorFine, x2)}); ` +
      `CLI overhead ÷ floor ${s(sm.cliOverFloor, x2)} (ms-precision: ${s(sm.cliOverFloorFine, x2)}); CLI wall ÷ action wall ${s(sm.cliWallOverAction, x2)}. ` +
      `Keystone token requests took ${s(cd.tokenMs, ms)}.` +
      (sm.fixOverFloor.length ? ` What-if build (proposed fixes) overhead ÷ floor: ${s(sm.fixOverFloor, x2)} (ms-precision: ${s(sm.fixOverFloorFine, x2)}).` : ''),
    '',
  );
  p('**Where the overhead goes** (median ms per phase; the cloud\'s work is "createImage answered → active"):', '');
  head('phase');
  const phases: [keyof Decomposition, string][] = [
    ['startup', 'create step: process start → first request'],
    ['beforeCreateImage', 'create step: first request → createImage (auth, find the server)'],
    ['createImage', 'createImage request'],
    ['cloudAfterCreateImage', "(cloud's work: createImage answered → active)"],
    ['detection', 'active → the answer that said so (poll interval)'],
    ['createExit', 'create step: that answer → process exit'],
    ['deleteStartup', 'delete step: process start → first request'],
    ['deleteRequests', 'delete step: requests (auth, GET, DELETE, …)'],
    ['deleteExit', 'delete step: last answer → process exit'],
  ];
  for (const [k, label] of phases) p(`| ${label} | ${ways.map((w) => fmtMs(median(sm.byWay[w].decomposition.map((d) => d[k])))).join(' | ')} |`);
  p('');
  const floorFine = median(sm.byWay.floor.overheadFine);
  const model = ways
    .filter((w) => w !== 'floor')
    .map((w) => {
      const extra = clientExtra(sm, w);
      return `${WAY_LABEL[w]} +${fmtMs(extra)} → ${x2((floorFine + extra) / floorFine)}`;
    });
  p(
    `The requests themselves cost about the same for every way (Keystone and Nova dominate, and vary by several hundred ms from run to run on this loaded machine, which is why the pair-by-pair ratios scatter). ` +
      `Counting only the phases that are the client's own doing (start-ups, detection, exits; median per phase minus the floor's), over the floor's median overhead of ${fmtS(floorFine)} (the 15 % budget is ${fmtMs(0.15 * floorFine)}): ${model.join('; ')}.`,
    '',
  );
  const byReq = (w: Way, phase: 'createBy' | 'deleteBy') => {
    const run = cd.runs.find((r) => r.way === w);
    return run ? Object.entries(run.requests[phase]).map(([k, v]) => `${v}× ${k}`).join(', ') : '';
  };
  p('Requests of one iteration, as the proxy saw them:', '');
  for (const w of ways) p(`- ${w}: create: ${byReq(w, 'createBy')}; delete: ${byReq(w, 'deleteBy')}`);
  p('');
  p('**Detection delay on the real cloud** (the action\'s create step, per run):', '');
  p('| run | Glance bound (exit − updated_at, −1 s…0) | tightened bounds | proxy saw active → exit | polls |', '|---|---|---|---|---|');
  const d = sm.detection;
  d.upper.forEach((u, i) => p(`| ${i + 1} | ${fmtS(d.lower[i]!)} – ${fmtS(u)} | ${fmtS(d.tightLower[i]!)} – ${fmtS(d.tightUpper[i]!)} | ${fmtMs(d.seenToExit[i]!)} | ${d.polls[i]} |`));
  p('');
  if (cd.failures.length) p('Attempts that failed and were retried:', ...cd.failures.map((f) => `- ${f.replace(/\n/g, ' ').slice(0, 400)}`), '');
}

function renderDetection(dl: DetectionLocalResult, p: (...xs: string[]) => void): void {
  p('## Detection delay (local cloud, exact)', '');
  p(
    'The snapshot job of the local cloud ends at a known millisecond. "Worst phase" replays the measured poll times: a snapshot that turns active just after poll k is seen at poll k+1 (for the short ones: the largest delay among polls in the first 10 s; for the long ones: the largest ratio among polls from 10 s on, where the schedule is "a tenth of the time spent").',
    '',
  );
  p('| snapshot | active → exit | % of elapsed | active → the poll that saw it | answer → exit | polls | worst phase | polls at (s after createImage) |', '|---|---|---|---|---|---|---|---|');
  const label = (r: { snapshotSeconds: number; build?: string }) => `${r.snapshotSeconds} s${r.build === 'action-fix' ? ' (what-if build)' : ''}`;
  for (const r of [...dl.short, ...(dl.fix?.short ?? [])]) {
    const w = worstCase(r, 0.5, 10, true);
    p(`| ${label(r)} | ${fmtS(r.delayMs)} | ${fmtPct(r.ratio, 1)} | ${fmtS(r.seenAfterMs)} | ${fmtMs(r.exitAfterSeenMs)} | ${r.polls} | ${fmtS(w.delayMs)} (active just after ${w.atS.toFixed(1)} s) | ${r.pollAt.map((x) => x.toFixed(1)).join(', ')} |`);
  }
  for (const r of [...dl.long, ...(dl.fix?.long ?? [])]) {
    const w = worstCase(r, 10);
    p(`| ${label(r)} | ${fmtS(r.delayMs)} | ${fmtPct(r.ratio, 1)} | ${fmtS(r.seenAfterMs)} | ${fmtMs(r.exitAfterSeenMs)} | ${r.polls} | ${fmtPct(w.ratio, 1)} (${fmtS(w.delayMs)}, active just after ${w.atS.toFixed(1)} s) | ${r.pollAt.map((x) => x.toFixed(1)).join(', ')} |`);
  }
  p('');
}

function renderDiagnose(d: DiagnoseResult, p: (...xs: string[]) => void): void {
  p('## Diagnosis (local cloud; variants built into temporary directories, src/ and dist/ untouched)', '');
  if (d.startup.length) {
    p('**Start-up by build** (spawn → first request at the server; runs interleaved):', '');
    p('| build | index.js | spawn → first request |', '|---|---|---|');
    for (const v of d.startup) p(`| ${v.label} | ${(v.bytes / 1e6).toFixed(2)} MB | ${s(v.firstRequestMs, ms)} |`);
    p('');
  }
  if (d.deleteStep.length) {
    p('**The delete step** (`mode: delete` of an existing image: GET, DELETE, then GET until 404):', '');
    p('| build | spawn → exit | peak RSS |', '|---|---|---|');
    for (const v of d.deleteStep) p(`| ${v.label} | ${s(v.wallMs, ms)} | ${s(v.rssKb, mb)} |`);
    p('');
    if (d.deleteAlloc) {
      p(`Allocations of one delete step (as built): ${(d.deleteAlloc.totalBytes / 1048576).toFixed(1)} MB in all; by the innermost bundle function: ${d.deleteAlloc.byFunction.slice(0, 5).map(([k, v]) => `${k} ${(v / 1048576).toFixed(1)} MB`).join(', ')}.`, '');
    }
  }
  if (d.prune) {
    const pk = d.prune.peak;
    const m = (b: number | undefined) => `${((b ?? Number.NaN) / 1048576).toFixed(0)} MB`;
    p(`**Prune memory** (${d.prune.n} images, unthrottled): peak RSS ${mb(d.prune.rssKb)} (dry-run, which lists and plans but deletes nothing: ${mb(d.prune.dryRunRssKb)}); peaks sampled every 10 ms: rss ${m(pk.rss)}, V8 heap total ${m(pk.heapTotal)}, heap used ${m(pk.heapUsed)}, external ${m(pk.external)}, array buffers ${m(pk.arrayBuffers)}.`, '');
    if (d.prune.heapFlags?.length) {
      p('The same prune under V8 heap flags (peaks of `process.memoryUsage()`; the action cannot set these itself: a JavaScript action gets no node flags):', '');
      p('| V8 flags | exit | wall | peak RSS | peak heap total | peak heap used |', '|---|---|---|---|---|---|');
      p(`| (none, as the runner runs it) | 0 | | ${mb(d.prune.rssKb)} | ${m(pk.heapTotal)} | ${m(pk.heapUsed)} |`);
      for (const h of d.prune.heapFlags) p(`| \`${h.flags}\` | ${h.code} | ${fmtS(h.wallMs, 1)} | ${mb(h.rssKb)} | ${m(h.heapTotal)} | ${m(h.heapUsed)} |`);
      p('', 'What is alive at any moment is small (it fits a ~30 MB heap); the peak is V8 sizing its heap, the young generation first, to the allocation rate of the deletions.', '');
    }
    const a = d.prune.alloc;
    p(`Allocated during the run (sampling heap profiler, collected objects included): ${(a.totalBytes / 1048576).toFixed(0)} MB, ${((a.totalBytes / Math.max(1, d.prune.n - 1)) / 1024).toFixed(0)} KB per deletion.`, '');
    p('| allocated by | MB | share |', '|---|---|---|');
    for (const [k, v] of a.byOwner.slice(0, 8)) p(`| ${k} | ${(v / 1048576).toFixed(1)} | ${fmtPct(v / a.totalBytes)} |`);
    p('');
    p('Top functions: ' + a.byFunction.slice(0, 8).map(([k, v]) => `${k} ${(v / 1048576).toFixed(1)} MB`).join(', ') + '.', '');
  }
  if (d.httpClients.length) {
    const by = (c: string) => d.httpClients.filter((x) => x.client === c);
    p(`**HTTP client** (${d.httpClients[0]!.n} DELETEs, 4 in flight, in a child process that imports the action's src/openstack/client.ts (and so got) whichever client it uses):`, '');
    p('| client | wall | peak RSS |', '|---|---|---|');
    const names: Record<string, string> = { got: "got, as the action's createHttp configures it", fetch: "Node's built-in fetch (undici)", http: 'node:http with a keep-alive Agent' };
    for (const c of ['got', 'fetch', 'http']) p(`| ${names[c]} | ${s(by(c).map((x) => x.wallMs), sec)} | ${s(by(c).map((x) => x.rssKb), mb)} |`);
    p('');
  }
  for (const n of d.notes) p(`- ${n}`);
}

function renderColdStart(c: ColdStartResult, p: (...xs: string[]) => void): void {
  p('## Cold start', '');
  p(
    `spawn → first request: ${fmtSummary(c.summary.firstRequest, ms)}; Node alone (\`node -e "fetch(url)"\`): ${fmtSummary(c.summary.nodeFloor, ms)}; whole run (delete of a missing image, 2 requests): ${fmtSummary(c.summary.total, ms)}. ` +
      `dist/index.js is ${c.distBytes.toLocaleString('en')} bytes${c.distMapBytes ? ` (source map ${c.distMapBytes.toLocaleString('en')})` : ''}.`,
    '',
  );
  if (c.profiles.length) {
    p(
      `Where it goes, from ${c.profiles.length} runs under \`--cpu-prof\` (200 µs sampling, which itself slows the process; median ms per category, largest first)${c.profiledTwin ? '. dist/ has no source map, so these ran on a twin built from src/ with `--source-map --no-source-map-register` (the same code, plus a map)' : ''}:`,
      '',
    );
    const cats = new Map<string, number[]>();
    for (const prof of c.profiles) for (const [k, v] of prof.parts) cats.set(k, [...(cats.get(k) ?? []), v]);
    const rows = [...cats.entries()].map(([k, v]) => [k, median([...v, ...Array(c.profiles.length - v.length).fill(0)])] as const).sort((a, b) => b[1] - a[1]);
    p('| category | ms |', '|---|---|');
    p(`| Node bootstrap before the profiler starts | ${fmtMs(median(c.profiles.map((x) => x.bootstrapMs)))} |`);
    for (const [k, v] of rows.filter(([, v]) => v >= 0.5)) p(`| ${k} | ${v.toFixed(1)} |`);
    p(`| total profiled (profiler start → first request) | ${fmtMs(median(c.profiles.map((x) => x.profiledMs)))} |`, '');
  }
}

function renderPrune(pr: NonNullable<BenchResults['prune']>, p: (...xs: string[]) => void): void {
  p('## Prune at scale', '');
  const busy = (b?: Record<string, number>) => (b ? Object.entries(b).map(([k, v]) => `${k.replace('-gra7', '')} ${fmtPct(v)}`).join(', ') : '');
  p('| cloud | way | N in scope | deleted | wall | requests | peak req in 1 s | DELETEs/s | DELETE latency | peak RSS | server CPU (1 core = 100 %) | seeding (not timed) |', '|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of [...pr.real, ...pr.local]) {
    p(
      `| ${r.cloud} | ${r.way} | ${r.n} | ${r.deleted} | ${fmtS(r.wallMs, 1)} | ${r.requests} | ${r.peakPerSecond} | ${Number.isFinite(r.deletesPerSecond) ? r.deletesPerSecond.toFixed(0) : 'n/a'} | ${r.deleteLatencyMs !== undefined ? fmtMs(r.deleteLatencyMs) : 'n/a'} | ${mb(r.maxRssKb)} | ${busy(r.serverBusy)} | ${fmtS(r.seedMs, 1)} |`,
    );
  }
  p('');
  if (pr.capacity?.length) {
    p(`**Glance's own capacity** (real cloud): ${pr.capacity[0]!.n} DELETEs from the benchmark process itself (fetch, no start-up), at several concurrencies:`, '');
    p('| in flight | wall | DELETEs/s | median latency | server CPU (1 core = 100 %) |', '|---|---|---|---|---|');
    for (const c of pr.capacity) p(`| ${c.concurrency} | ${fmtS(c.wallMs)} | ${c.perSecond.toFixed(1)} | ${fmtMs(c.latencyMs)} | ${busy(c.serverBusy)} |`);
    const cli = pr.real.find((r) => r.way === 'cli');
    const best = bestDeleteRate(pr);
    if (cli) {
      const bound = (cli.deleted / best) * 1000;
      p(
        '',
        `The best DELETE rate seen on this cloud, in the probe or in the action's own run, is ${best.toFixed(1)}/s: the ${cli.deleted} deletions alone then take at least ${fmtS(bound, 1)}, so no client can prune them more than ${x2(cli.wallMs / bound, 1)} faster than the CLI's ${fmtS(cli.wallMs, 1)} here. Glance runs as one eventlet process (workers=0): it can use one core at most, it got about ${fmtPct(pr.real.find((x) => x.way === 'action-unthrottled')?.serverBusy?.['glance-gra7'] ?? Number.NaN)} of one during the action's run on this shared machine, and more requests in flight do not raise its rate (above: 8 in flight is slower than 4).`,
      );
    }
    p('');
  }
  for (const r of [...pr.real, ...pr.local]) p(`- ${r.cloud} ${r.way}: ${Object.entries(r.by).map(([k, v]) => `${v}× ${k}`).join(', ')}`);
  p('');
  if (pr.errors.length) p('Errors:', ...pr.errors.map((e) => `- ${e}`), '');
}
