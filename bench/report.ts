// Turns the raw results into bench/results/REPORT.md: the goals first, then every figure with its
// median, range and run count, where the overhead goes, and the method.
import { aboveNode, type ColdStartResult } from './cases/cold-start.ts';
import { isCreateImage, type CreateDeleteResult, type WayRun } from './cases/create-delete.ts';
import { SHORT_SECONDS, worstPhase, type DetectionRun } from './cases/detection.ts';
import type { FleetRun } from './cases/fleet.ts';
import type { CapturedResult } from './cases/captured.ts';
import type { CapacityProbe, PruneRun } from './cases/prune.ts';
import { countBy, type ProxyRecord } from './lib/proxy.ts';
import type { VerifyResult } from './cases/verify.ts';
import { fmtMB, fmtMs, fmtPct, fmtRange, fmtS, fmtX, median } from './lib/stats.ts';

export interface BenchResults {
  meta: {
    startedAt: string;
    durationS: number;
    command: string;
    node: string;
    cli: string;
    cpus: number;
    /** At the start and at the end. */
    loadAvg: [number[], number[]];
    builds: { label: string; source: string; bytes: number }[];
    real?: { server: string; serverId: string; region: string; snapshotMode: string };
  };
  coldStart?: ColdStartResult;
  createDelete?: CreateDeleteResult;
  verify?: VerifyResult;
  detection?: DetectionRun[];
  prune?: PruneRun[];
  glanceCapacity?: CapacityProbe[];
  fleets?: FleetRun[];
  captured?: CapturedResult;
  skipped: string[];
  errors: string[];
}

const table = (head: string[], rows: (string | number)[][]) =>
  [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const verdict = (ok: boolean | undefined) => (ok === undefined ? '– n/a' : ok ? '✅ met' : '❌ missed');
const lastEnd = (records: ProxyRecord[]) => Math.max(...records.map((r) => r.tEnd));

// ------------------------------------------------------------------------------------------------
// create + wait + delete

/** Where one run's time went, in order: the client's own phases, and the cloud's. */
const PHASES = {
  startup: 'create step: process start → first request',
  beforeCreateImage: 'create step: first request → createImage (auth, find the server)',
  createImage: 'createImage request',
  cloud: "(cloud's work: createImage answered → active)",
  detection: 'active → the answer that said so (poll interval)',
  createExit: 'create step: that answer → process exit',
  deleteStartup: 'delete step: process start → first request',
  deleteRequests: 'delete step: its requests',
  deleteExit: 'delete step: last answer → process exit',
} as const;
type Phase = keyof typeof PHASES;
const CLIENT_PHASES: Phase[] = ['startup', 'detection', 'createExit', 'deleteStartup', 'deleteExit'];

function phases(r: WayRun): Record<Phase, number> {
  const c = r.create.records;
  const d = r.delete.records;
  const createImage = c.find(isCreateImage)!;
  const active = (r.activeLo + r.activeHi) / 2;
  return {
    startup: c[0]!.t - r.create.startAt,
    beforeCreateImage: createImage.t - c[0]!.t,
    createImage: createImage.tEnd - createImage.t,
    cloud: active - createImage.tEnd,
    detection: r.seenActiveAt - active,
    createExit: r.create.endAt - r.seenActiveAt,
    deleteStartup: d[0]!.t - r.delete.startAt,
    deleteRequests: lastEnd(d) - d[0]!.t,
    deleteExit: r.delete.endAt - lastEnd(d),
  };
}

const overhead = (r: WayRun) => r.wallMs - r.cloudWorkMs;
const overheadCoarse = (r: WayRun) => r.wallMs - r.glanceWorkMs;

/** f(x, floor) for each iteration that has both. */
function pairs(runs: WayRun[], way: string, f: (x: WayRun, floor: WayRun) => number): number[] {
  return runs.filter((r) => r.way === way).flatMap((x) => runs.filter((y) => y.way === 'floor' && y.iteration === x.iteration).map((y) => f(x, y)));
}

/** A step's requests one by one (kind, median duration, median gap before it) when every run made the same sequence. */
function sequence(records: ProxyRecord[][]): string {
  const keys = records.map((rs) => rs.map((r) => Object.keys(countBy([r]))[0]!));
  if (!keys.length || keys.some((k) => k.join() !== keys[0]!.join())) return 'varies from run to run';
  return keys[0]!
    .map((k, i) => {
      const ms = median(records.map((rs) => rs[i]!.tEnd - rs[i]!.t));
      const gap = median(records.map((rs) => (i ? rs[i]!.t - rs[i - 1]!.tEnd : Number.NaN)));
      // A request sent before the previous one was answered ran beside it.
      return `${!i ? '' : gap < 0 ? '(beside it) ' : `(+${fmtMs(gap)}) `}${k} ${fmtMs(ms)}`;
    })
    .join(' → ');
}

function createDeleteSection(cd: CreateDeleteResult): string[] {
  const ways = [...new Set(cd.runs.map((r) => r.way))];
  const of = (w: string) => cd.runs.filter((r) => r.way === w);
  const col = (f: (r: WayRun) => number, fmt: (v: number) => string) => ways.map((w) => fmtRange(of(w).map(f), fmt));
  const count = (v: number) => String(Math.round(v));
  const out = [
    '## create + wait + delete (real cloud)',
    '',
    `${median(ways.map((w) => of(w).length))} iterations; in each, every way one after the other (order rotated). Median (min–max, n). The overhead is the wall time minus the cloud's own work (Glance's created_at → active); "fine" narrows both moments below Glance's 1-s timestamps (see Method).`,
    '',
    table(
      ['', ...ways],
      [
        ['wall time', ...col((r) => r.wallMs, fmtS)],
        [
          "cloud's work (Glance updated_at − created_at)",
          ...col(
            (r) => r.glanceWorkMs,
            (v) => fmtS(v, 0),
          ),
        ],
        ['overhead = wall − cloud’s work', ...col(overheadCoarse, fmtS)],
        ['overhead, fine', ...col(overhead, fmtS)],
        ['requests, create step', ...col((r) => r.create.records.length, count)],
        ['requests, delete step', ...col((r) => r.delete.records.length, count)],
        ['GETs of the image until active', ...col((r) => r.polls, count)],
      ],
    ),
    '',
    ...ways
      .filter((w) => w !== 'floor')
      .map(
        (w) =>
          `- ${w} overhead ÷ floor overhead, pair by pair: ${fmtRange(
            pairs(cd.runs, w, (x, y) => overhead(x) / overhead(y)),
            fmtX,
          )} fine; ${fmtRange(
            pairs(cd.runs, w, (x, y) => overheadCoarse(x) / overheadCoarse(y)),
            fmtX,
          )} by Glance's timestamps.`,
      ),
    '',
    "**Where the overhead goes** (median ms per phase). The requests themselves cost about the same whoever sends them (Keystone and Nova dominate and vary by hundreds of ms on this loaded machine, which scatters the pair-by-pair ratios); the phases that are the client's own are steadier:",
    '',
    table(
      ['phase', ...ways],
      (Object.keys(PHASES) as Phase[]).map((p) => [PHASES[p], ...ways.map((w) => fmtMs(median(of(w).map((r) => phases(r)[p]))))]),
    ),
    '',
  ];
  // Phase by phase over the floor's (medians): where a way's extra overhead is, largest first.
  const phaseMedian = (w: string, p: Phase) => median(of(w).map((r) => phases(r)[p]));
  const floorOverhead = median(of('floor').map(overhead));
  for (const w of ways.filter((x) => x !== 'floor')) {
    const extra = (Object.keys(PHASES) as Phase[]).filter((p) => p !== 'cloud').map((p): [Phase, number] => [p, phaseMedian(w, p) - phaseMedian('floor', p)]);
    const total = extra.reduce((sum, [, ms]) => sum + ms, 0);
    const own = extra.filter(([p]) => CLIENT_PHASES.includes(p)).reduce((sum, [, ms]) => sum + ms, 0);
    const top = extra
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([p, ms]) => `${PHASES[p].replace(/ \(.*\)$/, '')} ${ms >= 0 ? '+' : ''}${fmtMs(ms)}`);
    out.push(
      `- ${w}: ${fmtMs(total)} over the floor's ${fmtS(floorOverhead)} by the phase medians (${fmtX((floorOverhead + total) / floorOverhead)}; the 1.15× budget is ${fmtMs(floorOverhead * 0.15)}), most in: ${top.join('; ')}. Its own phases alone (start-ups, detection, exits): ${fmtMs(own)} (${fmtX((floorOverhead + own) / floorOverhead)}).`,
    );
  }
  out.push(
    '',
    "**The requests of each step**, as the proxy saw them: kind, median duration, and (+gap) the median time since the previous answer, the client's own time between requests. Polls of the image are folded into a count.",
    '',
  );
  for (const w of ways) {
    const runs = of(w);
    const polls = median(runs.map((r) => r.polls));
    const beforePolls = runs.map((r) => r.create.records.filter((x) => !x.image || x.t < r.create.records.find(isCreateImage)!.t));
    out.push(`- ${w}, create: ${sequence(beforePolls)}, then ${polls} GETs of the image; delete: ${sequence(runs.map((r) => r.delete.records))}`);
  }
  if (cd.failures.length) out.push('', '**Failed attempts** (retried after 15 s):', '', ...cd.failures.map((f) => `- ${f.split('\n')[0]}`));
  return out;
}

// ------------------------------------------------------------------------------------------------
// The rest

function coldStartSection(c: ColdStartResult, builds: BenchResults['meta']['builds']): string[] {
  return [
    '## Cold start',
    '',
    'spawn of `node <build>/index.js` → its first request at the server (a delete of a missing image on the local cloud, behind the proxy); the builds and Node alone interleaved run by run, each round one pair per build.',
    '',
    table(
      ['', 'JavaScript', 'spawn → first request', 'above Node alone (pair by pair)', 'whole run (2 requests)'],
      [
        ...builds.map((b) => [
          b.label,
          `${(b.bytes / 1e6).toFixed(2)} MB`,
          fmtRange(c.firstRequestMs[b.label] ?? [], fmtMs),
          fmtRange(aboveNode(c, b.label), fmtMs),
          fmtRange(c.totalMs[b.label] ?? [], fmtMs),
        ]),
        ['Node alone: `node -e "fetch(url)"`', '', fmtRange(c.nodeFloorMs, fmtMs), '', ''],
      ],
    ),
  ];
}

function detectionSection(runs: DetectionRun[]): string[] {
  const rows = runs.map((r) => {
    const short = r.snapshotSeconds === SHORT_SECONDS;
    const worst = short ? worstPhase(r, 0, 10, true) : worstPhase(r, 10);
    return [
      `${r.snapshotSeconds} s`,
      r.build,
      fmtS(r.delayMs),
      fmtPct(r.ratio),
      fmtMs(r.exitAfterSeenMs),
      r.pollAt.length,
      `${short ? fmtS(worst.delayMs) : fmtPct(worst.ratio)} (active just after ${worst.atS.toFixed(1)} s)`,
    ];
  });
  return [
    '## Detection delay (local cloud, exact)',
    '',
    'From the exact moment the snapshot turned active to the exit of the create step. "Worst phase" replays the measured poll times: a snapshot that turns active just after poll k is seen at poll k + 1 (short snapshots: the largest delay among polls in the first 10 s; long ones: the largest ratio among polls from 10 s on).',
    '',
    table(['snapshot', 'build', 'active → exit', '% of elapsed', 'answer → exit', 'polls', 'worst phase'], rows),
  ];
}

function pruneSection(runs: PruneRun[], capacity: CapacityProbe[] | undefined): string[] {
  const busy = (b?: Record<string, number>) =>
    b
      ? Object.entries(b)
          .map(([k, v]) => `${k} ${fmtPct(v, 0)}`)
          .join(', ')
      : '';
  const out = [
    '## Prune at scale',
    '',
    "`keep-last: 1` over N images of one server (N − 1 deletions), the action with `rate-limit: 0` and at 10 req/s, vs ONE `openstack image delete` of the same N − 1 IDs. On the local cloud also the floor under the action's memory: the same DELETEs, 4 in flight, from a process that does nothing else, with got alone (`got-alone`). Peak RSS by /usr/bin/time.",
    '',
    table(
      ['cloud', 'way', 'N', 'deleted', 'wall', 'requests', 'peak req in 1 s', 'peak RSS', 'server CPU (1 core = 100 %)'],
      runs.map((r) => [r.cloud, r.way, r.n, r.deleted, fmtS(r.wallMs, 1), r.requests, r.peakPerSecond, fmtMB(r.maxRssKb), busy(r.serverBusy)]),
    ),
    '',
    ...runs.map(
      (r) =>
        `- ${r.cloud} ${r.way}: ${Object.entries(r.by)
          .map(([k, v]) => `${v}× ${k}`)
          .join(', ')}`,
    ),
  ];
  if (capacity?.length) {
    out.push(
      '',
      "**Glance's own DELETE rate** (real cloud): DELETEs from the benchmark process itself (no start-up). If the rate does not grow with concurrency, Glance (one eventlet process) is the bottleneck for any client:",
      '',
    );
    out.push(
      table(
        ['in flight', 'N', 'DELETEs/s', 'median latency', 'server CPU'],
        capacity.map((c) => [c.concurrency, c.n, c.perSecond.toFixed(1), fmtMs(c.latencyMs), busy(c.serverBusy)]),
      ),
    );
  }
  return out;
}

function goals(r: BenchResults): string[] {
  const rows: string[][] = [];
  const cd = r.createDelete;
  for (const w of [...new Set(cd?.runs.map((x) => x.way))].filter((w) => w.startsWith('action'))) {
    const fine = median(pairs(cd!.runs, w, (x, y) => overhead(x) / overhead(y)));
    const coarse = median(pairs(cd!.runs, w, (x, y) => overheadCoarse(x) / overheadCoarse(y)));
    rows.push([
      `create + wait + delete, ${w}: overhead ÷ floor's`,
      '≤ 1.15×',
      `${fmtX(fine)} fine, ${fmtX(coarse)} by Glance's timestamps (median of pairs)`,
      verdict(fine <= 1.15 && coarse <= 1.15),
    ]);
  }
  for (const [label, ms] of Object.entries(r.coldStart?.firstRequestMs ?? {})) {
    const above = median(aboveNode(r.coldStart!, label));
    rows.push([
      `cold start, ${label}: spawn → first request, above Node alone`,
      '≤ 30 ms',
      `${fmtMs(above)} (median of pairs; ${fmtMs(median(ms))}, Node alone ${fmtMs(median(r.coldStart!.nodeFloorMs))})`,
      verdict(above <= 30),
    ]);
  }
  for (const d of r.detection ?? []) {
    const short = d.snapshotSeconds === SHORT_SECONDS;
    if (short && d !== r.detection!.find((x) => x.build === d.build && x.snapshotSeconds === SHORT_SECONDS)) continue;
    if (short) {
      const all = r.detection!.filter((x) => x.build === d.build && x.snapshotSeconds === SHORT_SECONDS).map((x) => x.delayMs);
      rows.push([`detection, ${SHORT_SECONDS} s snapshot, ${d.build}`, '≤ 1 s', fmtRange(all, fmtS), verdict(median(all) <= 1000)]);
    } else
      rows.push([
        `detection, ${d.snapshotSeconds} s snapshot, ${d.build}`,
        '≤ 10 %',
        `${fmtPct(d.ratio)} (worst phase ${fmtPct(worstPhase(d, 10).ratio)})`,
        verdict(d.ratio <= 0.1),
      ]);
  }
  // One set of rows per cloud and scale (the local cloud runs at several: how memory grows with N).
  for (const [cloud, n] of new Map((r.prune ?? []).map((p) => [`${p.cloud} ${p.n}`, [p.cloud, p.n] as const])).values()) {
    const of = (way: string) => r.prune?.find((p) => p.cloud === cloud && p.n === n && p.way === way);
    const [fast, cli, ceiling] = [of('action-unthrottled'), of('cli'), of('action-ceiling')];
    if (fast && cli)
      rows.push([
        `prune ${fast.n} (${cloud}), unthrottled vs the CLI`,
        '≥ 5× faster',
        `${fmtS(fast.wallMs, 1)} vs ${fmtS(cli.wallMs, 1)}: ${fmtX(cli.wallMs / fast.wallMs)}`,
        verdict(cli.wallMs / fast.wallMs >= 5),
      ]);
    // The floor: the same DELETEs from a process that does nothing else (got alone), beside the action's peak.
    const floor = of('got-alone');
    const beside = floor ? ` (got alone: ${fmtMB(floor.maxRssKb)})` : '';
    if (fast) rows.push([`prune ${fast.n} (${cloud}), peak memory`, '≤ 100 MB', `${fmtMB(fast.maxRssKb)}${beside}`, verdict(fast.maxRssKb <= 100 * 1024)]);
    if (ceiling)
      rows.push([
        `prune ${ceiling.n} (${cloud}) at 10 req/s`,
        '≤ 1.10 × N ÷ 10/s',
        `${fmtS(ceiling.wallMs, 1)} vs ${fmtS(ceiling.deleted * 100, 1)}, peak ${ceiling.peakPerSecond} req in 1 s`,
        verdict(ceiling.wallMs <= ceiling.deleted * 110),
      ]);
  }
  // How the action's peak memory grows with the scope: its largest N against its smallest, on one cloud.
  for (const cloud of ['real', 'local'] as const) {
    const runs = (r.prune ?? []).filter((p) => p.cloud === cloud && p.way === 'action-unthrottled').sort((a, b) => a.n - b.n);
    const [small, large] = [runs[0], runs.at(-1)];
    if (small && large && large.n > small.n)
      rows.push([
        `prune ${large.n} vs ${small.n} (${cloud}), peak memory`,
        '≤ 1.10×',
        `${fmtMB(large.maxRssKb)} vs ${fmtMB(small.maxRssKb)}: ${fmtX(large.maxRssKb / small.maxRssKb)}`,
        verdict(large.maxRssKb <= small.maxRssKb * 1.1),
      ]);
  }
  for (const f of r.fleets ?? []) {
    const slowest = Math.max(...f.singles.map((s) => s.wallMs));
    const total = f.singles.reduce((sum, s) => sum + s.requests, 0);
    rows.push([
      `fleet of ${f.n} (${f.cloud}), wall time vs its slowest single step`,
      '≤ 1.25×',
      `${fmtS(f.fleet.wallMs, 1)} vs ${fmtS(slowest, 1)}: ${fmtX(f.fleet.wallMs / slowest)}`,
      verdict(f.fleet.wallMs <= 1.25 * slowest),
    ]);
    rows.push([`fleet of ${f.n} (${f.cloud}), requests vs one step each`, 'fewer', `${f.fleet.requests} vs ${total}`, verdict(f.fleet.requests < total)]);
    rows.push([
      `fleet of ${f.n} (${f.cloud}), request rate`,
      `≤ ${f.ceiling} in any 1 s`,
      `peak ${f.fleet.peakPerSecond}`,
      verdict(f.fleet.peakPerSecond <= f.ceiling),
    ]);
  }
  const plain = r.captured?.real.filter((c) => !c.stopInstance) ?? [];
  if (plain.length) {
    const worst = (pick: (c: (typeof plain)[number]) => number) => Math.max(...plain.map(pick));
    rows.push([
      'wait: captured, the main step ends after the task state reaches image_uploading',
      '≤ 1 s',
      fmtS(
        worst((c) => c.mainEndAfterUploadingMs),
        2,
      ),
      verdict(worst((c) => c.mainEndAfterUploadingMs) <= 1000),
    ]);
    rows.push([
      'wait: captured, the capture noticed',
      '≤ 0.5 s',
      fmtS(
        worst((c) => c.captureNoticedMs),
        2,
      ),
      verdict(worst((c) => c.captureNoticedMs) <= 500),
    ]);
    rows.push([
      'wait: captured, `active` noticed by the post step',
      '≤ 0.5 s',
      fmtS(
        worst((c) => c.activeNoticedMs),
        2,
      ),
      verdict(worst((c) => c.activeNoticedMs) <= 500),
    ]);
  }
  const fleet = r.captured?.fleet;
  if (fleet)
    rows.push([
      `wait: captured, a fleet of ${fleet.n}: one server listing per look`,
      'no server polled alone',
      `${fleet.serverListings} listings, ${fleet.serverGets} GETs of single servers`,
      verdict(fleet.serverGets === 0 && fleet.serverListings > 0),
    ]);
  return rows.length ? ['## Goals', '', table(['goal', 'target', 'measured', 'result'], rows)] : [];
}

function verifySection(v: VerifyResult): string[] {
  const ways = [...new Set(v.runs.map((r) => r.way))];
  const of = (w: string) => v.runs.filter((r) => r.way === w);
  return [
    '## Verify a snapshot on a throwaway server (real cloud)',
    '',
    `Snapshot ${v.imageId} of the bench server, booted with flavor osl-tiny and no network, then deleted and waited for. action: \`mode: verify\` (one process, to the deletion confirmed); cli: \`openstack --os-compute-api-version 2.37 server create --nic none --wait\` then \`openstack server delete --wait\`.`,
    '',
    table(
      ['way', 'runs', 'start to deletion confirmed', 'to ACTIVE', 'requests'],
      ways.map((w) => [
        w,
        of(w).length,
        fmtRange(
          of(w).map((r) => r.wallMs),
          fmtS,
        ),
        fmtRange(
          of(w).map((r) => r.bootMs),
          fmtS,
        ),
        fmtRange(
          of(w).map((r) => r.requests),
          String,
        ),
      ]),
    ),
    ...(v.failures.length ? ['', '**Failures:**', '', ...v.failures.map((f) => `- ${f.split('\n')[0]}`)] : []),
  ];
}

function fleetSection(runs: FleetRun[]): string[] {
  const rows = runs.map((f) => {
    const walls = f.singles.map((s) => s.wallMs);
    return [
      f.cloud,
      f.n,
      fmtS(f.fleet.wallMs, 1),
      f.fleet.requests,
      f.fleet.peakPerSecond,
      fmtS(Math.max(...walls), 1),
      fmtS(median(walls), 1),
      f.singles.reduce((sum, s) => sum + s.requests, 0),
    ];
  });
  return [
    '## A fleet in one step, beside one step per server',
    '',
    `N servers selected by a tag, \`mode: create\`, \`rate-limit: ${runs[0]?.ceiling}\`: one step at \`max-parallel\` N (at most 32), then each server in a step of its own, all at once (as a matrix of jobs). Requests counted at the server; the peak is the most requests in any 1-second window of the fleet's step.`,
    '',
    table(['cloud', 'servers', 'fleet wall', 'fleet requests', 'fleet peak/s', 'slowest single', 'median single', 'singles requests'], rows),
  ];
}

function capturedSection(c: CapturedResult): string[] {
  const rows = c.real.map((r) => [
    r.stopInstance ? 'stop-instance' : 'running',
    fmtS(r.mainMs, 1),
    fmtS(r.mainEndAfterUploadingMs, 2),
    fmtS(r.captureNoticedMs, 2),
    fmtS(r.postMs, 1),
    fmtS(r.activeNoticedMs, 2),
    r.mainRequests,
    r.postRequests,
    r.downtimeS === undefined ? '–' : `${r.downtimeS} s`,
  ]);
  const f = c.fleet;
  return [
    '## wait: captured',
    '',
    `The loopback cloud's fake driver with a ${c.phases.captureS}-s capture and a ${c.phases.uploadS}-s upload (GRA7's nova-compute restarted so for the case, then back to its defaults). The main step (\`wait: captured\`), then the post step at once, as the runner runs them. "After image_uploading" and "noticed" are against a watcher polling Nova and Glance every 50 ms.`,
    '',
    table(
      [
        'server',
        'main step',
        'main ends after image_uploading',
        'capture noticed',
        'post step',
        'active noticed',
        'main requests',
        'post requests',
        'downtime',
      ],
      rows,
    ),
    ...(f
      ? [
          '',
          `A fleet of ${f.n} on the local cloud (same phases): the main step made ${f.requests} requests (${(f.requests / f.n).toFixed(1)} per server; one server alone: ${f.singleRequests}), of which ${f.serverListings} server listings (\`changes-since\`), ${f.serverGets} GETs of a single server, ${f.imageRequests} to Glance.`,
        ]
      : []),
  ];
}

const METHOD = `## Method

- **Counting** is done at the server: on the real cloud by a counting reverse proxy (\`bench/lib/proxy.ts\`, one listener per upstream port; the action and the CLI get \`OS_AUTH_URL\` pointing at it, and it rewrites every upstream URL in responses, Keystone's catalog included, so that all later requests go through it too); on the local cloud by its own request log. Counts include authentication and version discovery.
- **Timing**: the action runs as the runner runs it (\`test/support/run-action.ts\`, with \`node:child_process.spawn\` wrapped to time the spawn and the \`exit\` event and to run a frozen copy of the build, \`bench/lib/timed-run.ts\`); the CLI is \`/usr/bin/openstack\` (Debian's python3-openstackclient) with the same \`OS_*\` variables. One clock (\`performance.timeOrigin + performance.now()\`) for spawns, exits and proxy arrivals.
- **The cloud's own work** is Glance's \`updated_at − created_at\` of the active image, as the issue defines it. Both have 1-s precision, so each run's figure is off by up to ±1 s; the "fine" figure narrows both ends: the creation lies within createImage's request and within \`[created_at, created_at + 1 s)\`; the active moment within \`[max(updated_at, the last GET that still saw it otherwise), min(updated_at + 1 s, the first answer that said active)]\`; midpoints are used.
- **The floor** is the fewest requests that can do the job, from the already-running benchmark process, through the tests' checking client (\`test/support/openstack.ts\`): authenticate, find the server by name, createImage (microversion 2.45), GET the image every 50 ms until active, authenticate again (as a second step must), DELETE.
- **Detection delay** is measured on the local cloud, whose snapshot job ends at an exact millisecond, rather than by restarting the shared nova-compute with another \`OSL_SNAPSHOT_DELAY\`: the poll schedule is the same code.
- **Builds**: every \`--dist\` build is copied to a private directory first; \`npm run bench -- --dist dist --dist fix=/tmp/dist-exp\` compares a scratch build with dist/ in one run, interleaved.`;

export function renderReport(r: BenchResults): string {
  const m = r.meta;
  const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
  const out = [
    '# Benchmarks: openstack-snapshot-action',
    '',
    `Generated by \`${m.command}\` on ${m.startedAt} (${m.durationS.toFixed(0)} s). Node ${m.node}, ${m.cli}, ${m.cpus} CPUs, load average ${load(m.loadAvg[0])} at the start and ${load(m.loadAvg[1])} at the end (the loopback cloud and other people's tests share the machine: every figure is a median, and ratios are taken pair by pair within one iteration).`,
    '',
    `Builds: ${m.builds.map((b) => `${b.label} (\`${b.source}\`, ${b.bytes.toLocaleString('en')} bytes)`).join('; ')}.`,
    ...(m.real
      ? [
          '',
          `Real cloud: the OpenStack Zed loopback cloud, region ${m.real.region}, user demo, server \`${m.real.server}\` (${m.real.serverId}), nova-compute snapshot mode ${m.real.snapshotMode}.`,
        ]
      : []),
    ...(r.skipped.length ? ['', '**Skipped:**', '', ...r.skipped.map((s) => `- ${s}`)] : []),
    ...(r.errors.length ? ['', '**Errors:**', '', ...r.errors.map((e) => `- ${e.split('\n')[0]}`)] : []),
    '',
    ...goals(r),
  ];
  const sections = [
    r.createDelete && createDeleteSection(r.createDelete),
    r.detection && detectionSection(r.detection),
    r.coldStart && coldStartSection(r.coldStart, m.builds),
    r.prune && pruneSection(r.prune, r.glanceCapacity),
    r.fleets && fleetSection(r.fleets),
    r.captured && capturedSection(r.captured),
    r.verify && verifySection(r.verify),
  ];
  for (const s of sections) if (s) out.push('', ...s);
  out.push('', METHOD, '');
  return out.join('\n');
}
