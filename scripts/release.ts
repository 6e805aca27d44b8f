// What .github/workflows/release.yml checks and decides on a pushed tag, in its read-only job:
//   node scripts/release.ts check vX.Y.Z NOTES   the tag, package.json's version and a dated CHANGELOG
//                                          section name one version; writes that section (the notes) to NOTES
//   node scripts/release.ts major vX.Y.Z   prints the major tag (v1) to move to the tag when it is the
//                                          highest vX.*.* of the repository that is no pre-release
// A refusal is one ::error:: line and exit status 1.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..');

export interface Version {
  major: number;
  minor: number;
  patch: number;
  prerelease?: string;
}

/** `v1.2.3` or `v1.2.3-rc.1`; anything else is no release tag. */
export function parseTag(tag: string): Version | undefined {
  const m = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z.-]+))?$/.exec(tag);
  if (!m) return undefined;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3]), ...(m[4] ? { prerelease: m[4] } : {}) };
}

/** The body of CHANGELOG's `## [X.Y.Z] - YYYY-MM-DD` section, or why there is none. */
export function changelogSection(changelog: string, version: string): { notes: string } | { problem: string } {
  const lines = changelog.split('\n');
  const start = lines.findIndex((l) => l.startsWith(`## [${version}]`));
  if (start < 0) return { problem: `CHANGELOG.md has no section "## [${version}] - YYYY-MM-DD"` };
  if (!/^## \[[^\]]+\] - \d{4}-\d{2}-\d{2}$/.test(lines[start]!))
    return { problem: `CHANGELOG.md's section of ${version} has no date: "## [${version}] - YYYY-MM-DD"` };
  const end = lines.findIndex((l, i) => i > start && (l.startsWith('## ') || /^\[[^\]]+\]: /.test(l)));
  const notes = lines
    .slice(start + 1, end < 0 ? undefined : end)
    .join('\n')
    .trim();
  return notes ? { notes } : { problem: `CHANGELOG.md's section of ${version} is empty` };
}

/** The problems that keep `tag` from being released with this package.json and CHANGELOG, and its notes. */
export function checkRelease(tag: string, packageVersion: string, changelog: string): { problems: string[]; notes?: string } {
  if (!parseTag(tag)) return { problems: [`${tag} is not a release tag: use vMAJOR.MINOR.PATCH, e.g. v1.2.3 (or v1.2.3-rc.1)`] };
  const version = tag.slice(1);
  const problems: string[] = [];
  if (packageVersion !== version)
    problems.push(`package.json's version is ${packageVersion}, the tag says ${version}: set "version": "${version}" and tag again`);
  const section = changelogSection(changelog, version);
  if ('problem' in section) problems.push(section.problem);
  return { problems, ...('notes' in section ? { notes: section.notes } : {}) };
}

const compare = (a: Version, b: Version) => a.major - b.major || a.minor - b.minor || a.patch - b.patch;

/** The major tag (`v1`) to move to `tag`: only when it is no pre-release and no `vMAJOR.*.*` of `tags` is higher. */
export function majorToMove(tag: string, tags: string[]): string | undefined {
  const version = parseTag(tag);
  if (!version || version.prerelease) return undefined;
  const higher = tags.map(parseTag).some((other) => other && !other.prerelease && other.major === version.major && compare(other, version) > 0);
  return higher ? undefined : `v${version.major}`;
}

if (import.meta.main) {
  const [command, tag = '', notesFile] = process.argv.slice(2);
  if (command === 'check' && notesFile) {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const { problems, notes } = checkRelease(tag, version, readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8'));
    for (const problem of problems) console.log(`::error::${problem}`);
    if (problems.length) process.exit(1);
    writeFileSync(notesFile, `${notes}\n`);
    console.log(`${tag}: package.json and CHANGELOG.md agree; the release notes are in ${notesFile}`);
  } else if (command === 'major') {
    const tags = execFileSync('git', ['tag', '--list', 'v*'], { cwd: ROOT, encoding: 'utf8' }).split('\n').filter(Boolean);
    const major = majorToMove(tag, tags);
    console.error(major ? `${major} moves to ${tag}` : `${tag} is a pre-release or not the highest of its major version: no major tag moves`);
    if (major) console.log(major);
  } else {
    console.log('::error::usage: node scripts/release.ts check vX.Y.Z NOTES-FILE | major vX.Y.Z');
    process.exit(1);
  }
}
