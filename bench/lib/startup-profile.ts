// Where the cold start goes: run the action once under V8's sampling profiler (--cpu-prof through
// NODE_OPTIONS) and attribute every sample between process start and the first request's arrival
// at the server to what was running, resolved through dist/index.js.map to the npm package (or
// src/ file) whose code it is. The profile's timestamps are CLOCK_MONOTONIC microseconds, like
// process.hrtime, so the window is cut exactly at the arrival the proxy recorded.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { now } from './clock.ts';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Offset to turn now() (epoch ms) into the monotonic clock V8's profiler uses (ms). */
export function monotonicOffset(): number {
  return Number(process.hrtime.bigint()) / 1e6 - now();
}

export function profileEnv(): { dir: string; NODE_OPTIONS: string } {
  const dir = mkdtempSync(join(tmpdir(), 'osa-bench-prof-'));
  return { dir, NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${dir} --cpu-prof-interval=200` };
}

export interface StartupBreakdown {
  /** spawn -> the profiler's first tick: Node's bootstrap before user code (ms). */
  bootstrapMs: number;
  /** profiler start -> first request arrival (ms), split into `parts`. */
  profiledMs: number;
  /** ms by category, largest first. */
  parts: [string, number][];
}

/**
 * Categories: "compile dist/index.js" (V8 parsing the bundle as an ES module), "evaluate <package>"
 * (top-level code and functions of a bundled package, including the Node built-ins it loads),
 * "action code (src/…)", "GC", "idle/other (program)", "node internals".
 */
export function analyzeStartup(profileDir: string, mapPath: string, spawnAt: number, firstRequestAt: number, offset: number): StartupBreakdown {
  const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`no .cpuprofile in ${profileDir}`);
  const profile = JSON.parse(readFileSync(join(profileDir, file), 'utf8')) as CpuProfile;
  rmSync(profileDir, { recursive: true, force: true });
  const map = new SourceMap(JSON.parse(readFileSync(mapPath, 'utf8')));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const bundleFrame = (cf: CallFrame): string | undefined => {
    if (!cf.url.endsWith('/index.js') || cf.url.startsWith('node:')) return undefined;
    const entry = map.findEntry(cf.lineNumber, cf.columnNumber) as { originalSource?: string };
    const src = entry?.originalSource ?? '';
    if (/external node-commonjs|external "node:/.test(src)) return 'load Node built-in modules (http, tls, stream… for the bundle)';
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(src)?.[1];
    if (pkg) return `evaluate ${pkg}`;
    const own = /\/src\/(.+)$/.exec(src)?.[1];
    // ncc concatenates the ES modules (got, @actions/core, @octokit/*, p-map… and src/) into one
    // function whose frame maps to the entry, src/index.ts: its self time is their top-level code.
    if (own === 'index.ts') return 'top-level code of the concatenated ES modules (got, @actions/*, @octokit/*…; maps to src/index.ts)';
    if (own) return `action code (src/${own})`;
    return undefined; // webpack runtime: look further up the stack
  };
  const category = (leaf: ProfileNode): string => {
    const fn = leaf.callFrame.functionName;
    if (fn === '(garbage collector)') return 'GC';
    if (fn === '(program)' || fn === '(idle)') return 'idle/other (program)';
    for (let n: ProfileNode | undefined = leaf; n; n = nodes.get(parent.get(n.id) ?? -1)) {
      const hit = bundleFrame(n.callFrame);
      if (hit) return hit;
      if (n.callFrame.functionName === 'compileSourceTextModule') return 'compile dist/index.js';
    }
    if (leaf.callFrame.url.includes('sourcemap-register')) return 'evaluate sourcemap-register.cjs';
    return 'node internals (loader, bootstrap)';
  };

  const startMs = profile.startTime / 1000;
  const cut = firstRequestAt + offset;
  let t = startMs;
  const parts = new Map<string, number>();
  for (let i = 0; i < profile.samples.length; i += 1) {
    const dt = profile.timeDeltas[i]! / 1000;
    if (t + dt > cut) break;
    t += dt;
    const leaf = nodes.get(profile.samples[i]!)!;
    const k = category(leaf);
    parts.set(k, (parts.get(k) ?? 0) + dt);
  }
  return {
    bootstrapMs: startMs - (spawnAt + offset),
    profiledMs: cut - startMs,
    parts: [...parts.entries()].sort((a, b) => b[1] - a[1]),
  };
}
