// `npm run build`: dist/ (the main step) and dist/post/ (the post step) from src/ by ncc, each with
// a licenses.txt of the packages it bundles. What only some runs need is loaded by a dynamic
// import() (clouds.yaml's parser, @actions/core's OIDC client), which ncc emits as chunks beside
// index.js; ncc's own --license then writes one list per chunk to the same file, the last one
// winning, so the list is made here from webpack's stats instead, in the same format as ncc's.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BUILDS = [
  ['src/index.ts', 'dist'],
  // After dist/: ncc empties its output directory first, dist/post/ included.
  ['src/index-post.ts', 'dist/post'],
];

/** The directory of every package that a module of the build comes from (concatenated modules included). */
function packageDirs(stats) {
  const dirs = new Set();
  const visit = (module) => {
    const dir = /^\.\/(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(module.name ?? '')?.[1];
    if (dir) dirs.add(dir);
    for (const inner of module.modules ?? []) visit(inner);
  };
  for (const module of stats.modules ?? []) visit(module);
  return [...dirs].sort();
}

/** Name, license and license text of each package, sorted by name: ncc's licenses.txt format. */
function licenses(dirs) {
  const byName = new Map();
  for (const dir of dirs) {
    const { name, license } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    if (byName.has(name)) continue;
    const file = readdirSync(dir)
      .sort()
      .find((f) => /^licen[cs]e/i.test(f));
    const text = file ? readFileSync(join(dir, file), 'utf8').replace(/\r\n/g, '\n') : undefined;
    byName.set(name, [name, typeof license === 'object' ? license?.type : license, text]);
  }
  const entries = [...byName.values()].sort(([a], [b]) => (a < b ? -1 : 1));
  return `${entries
    .map((parts) => `${parts.filter(Boolean).join('\n')}\n\n`)
    .join('')
    .trim()}\n`;
}

const work = mkdtempSync(join(tmpdir(), 'osa-build-'));
try {
  for (const [entry, out] of BUILDS) {
    const stats = join(work, 'stats.json');
    execFileSync('ncc', ['build', entry, '-o', out, '--stats-out', stats], { stdio: 'inherit' });
    writeFileSync(join(out, 'licenses.txt'), licenses(packageDirs(JSON.parse(readFileSync(stats, 'utf8')))));
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
