// Attribute the bytes a sampling heap profile saw allocated (collected objects included, see
// bench/diagnose/preload.mjs) to the code that allocated them: the innermost stack frame in
// dist/index.js, resolved through its source map to an npm package or a src/ file.
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface SamplingNode {
  callFrame: CallFrame;
  selfSize: number;
  children?: SamplingNode[];
}

export interface AllocBreakdown {
  totalBytes: number;
  /** [package or src file, bytes], largest first. */
  byOwner: [string, number][];
  /** [owner:function:line, bytes], largest first (top 15). */
  byFunction: [string, number][];
}

export function analyzeAllocations(profilePath: string, mapPath: string, bundleUrlPart: string): AllocBreakdown {
  const profile = JSON.parse(readFileSync(profilePath, 'utf8')) as { head: SamplingNode };
  const map = new SourceMap(JSON.parse(readFileSync(mapPath, 'utf8')));
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let total = 0;
  const walk = (node: SamplingNode, stack: CallFrame[]) => {
    const frames = [...stack, node.callFrame];
    if (node.selfSize) {
      total += node.selfSize;
      let owner = 'outside the bundle (Node internals, preload)';
      let fn = owner;
      for (let i = frames.length - 1; i >= 0; i -= 1) {
        const cf = frames[i]!;
        if (!cf.url.includes(bundleUrlPart) || !cf.url.endsWith('index.js')) continue;
        const entry = map.findEntry(cf.lineNumber, cf.columnNumber) as { originalSource?: string; originalLine?: number };
        const src = entry?.originalSource ?? '';
        owner = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(src)?.[1] ?? (/\/src\/(.+)$/.exec(src)?.[1] ? `src/${/\/src\/(.+)$/.exec(src)![1]}` : src || '(bundle)');
        fn = `${owner} ${cf.functionName || '(anonymous)'}()`;
        break;
      }
      byOwner.set(owner, (byOwner.get(owner) ?? 0) + node.selfSize);
      byFunction.set(fn, (byFunction.get(fn) ?? 0) + node.selfSize);
    }
    for (const child of node.children ?? []) walk(child, frames);
  };
  walk(profile.head, []);
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  return { totalBytes: total, byOwner: sorted(byOwner), byFunction: sorted(byFunction).slice(0, 15) };
}
