// "What if": build the action from a patched COPY of src/ into a temporary directory (src/ and
// dist/ are never touched), to measure what a proposed fix would change. The copy gets a symlink
// to the project's node_modules, so ncc resolves the same dependencies.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '../..');

export interface Patch {
  file: string;
  /** What to replace; a patch whose pattern is absent (src/ already changed that way) is skipped and said so. */
  pattern: RegExp;
  to: string;
  why: string;
}

/** The fixes proposed for the misses this benchmark finds (see the report's Diagnosis). */
export const PROPOSED_FIXES: { patches: Patch[]; sourceMap: boolean; description: string } = {
  patches: [
    {
      file: 'src/openstack/wait.ts',
      pattern: /Math\.max\((?:[3-9]\d\d|[1-9][\d_]{3,}), elapsedMs \* 0\.1\)/,
      to: 'Math.max(250, elapsedMs * 0.1)',
      why: 'poll every 250 ms until a tenth of the elapsed time is longer: a short snapshot is noticed sooner',
    },
    {
      file: 'src/provenance.ts',
      pattern: /import \{ context \} from '@actions\/github';/,
      to:
        "const context = { runId: Number(process.env.GITHUB_RUN_ID), runAttempt: Number(process.env.GITHUB_RUN_ATTEMPT), sha: process.env.GITHUB_SHA ?? '', " +
        "workflow: process.env.GITHUB_WORKFLOW ?? '', serverUrl: process.env.GITHUB_SERVER_URL ?? 'https://github.com' };",
      why: "read the GITHUB_* variables directly (all @actions/github's context does here): @actions/github and @octokit/* leave the bundle, and so does their start-up work",
    },
  ],
  sourceMap: false,
  description: 'poll floor 250 ms; provenance from GITHUB_* without @actions/github; built without --source-map (no source-map-support runtime)',
};

export interface Variant {
  path: string;
  dir: string;
  description: string;
  /** One line per patch: applied (from → to), or skipped because src/ no longer has the pattern. */
  applied: string[];
}

export function buildVariant(fixes = PROPOSED_FIXES): Variant {
  const dir = mkdtempSync(join(tmpdir(), 'osa-bench-variant-'));
  cpSync(join(ROOT, 'src'), join(dir, 'src'), { recursive: true });
  for (const f of ['package.json', 'tsconfig.json']) cpSync(join(ROOT, f), join(dir, f));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const applied: string[] = [];
  for (const patch of fixes.patches) {
    const file = join(dir, patch.file);
    const text = readFileSync(file, 'utf8');
    const match = patch.pattern.exec(text);
    if (!match) {
      applied.push(`${patch.file}: skipped, src/ no longer has ${patch.pattern} (${patch.why})`);
      continue;
    }
    writeFileSync(file, text.replace(patch.pattern, patch.to));
    applied.push(`${patch.file}: \`${match[0]}\` → \`${patch.to}\` (${patch.why})`);
  }
  const out = join(dir, 'dist');
  execFileSync(join(ROOT, 'node_modules/.bin/ncc'), ['build', 'src/index.ts', '-o', out, '-q', ...(fixes.sourceMap ? ['--source-map'] : [])], { cwd: dir, stdio: 'pipe' });
  return { path: join(out, 'index.js'), dir, description: fixes.description, applied };
}

export function removeVariant(variant: Variant | undefined): void {
  if (variant) rmSync(variant.dir, { recursive: true, force: true });
}

/**
 * The bundle with a source map for attributing profiles: dist/ itself when it has one, else a twin
 * built from src/ with `--source-map --no-source-map-register` (the same code, plus a map, without
 * the source-map-support runtime).
 */
export function mappedBuild(distPath: string): { path: string; mapPath: string; dir?: string } {
  if (existsSync(`${distPath}.map`)) return { path: distPath, mapPath: `${distPath}.map` };
  const dir = mkdtempSync(join(tmpdir(), 'osa-bench-twin-'));
  execFileSync(join(ROOT, 'node_modules/.bin/ncc'), ['build', 'src/index.ts', '-o', dir, '-q', '--source-map', '--no-source-map-register'], { cwd: ROOT, stdio: 'pipe' });
  return { path: join(dir, 'index.js'), mapPath: join(dir, 'index.js.map'), dir };
}

/** Whether a bundle starts by registering source-map-support (ncc --source-map without --no-source-map-register). */
export function hasSourceMapSupport(path: string): boolean {
  return readFileSync(path, 'utf8').slice(0, 200).includes('sourcemap-register');
}
