// The release workflow's decisions (scripts/release.ts): which tags are releases, that package.json
// and a dated CHANGELOG section name the tag's version, and that the major tag moves only to the
// highest release of its major version that is no pre-release. And this repository's CHANGELOG.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { changelogSection, checkRelease, majorToMove, parseTag } from '../../scripts/release.ts';
import { ROOT } from '../support/workflows.ts';

const CHANGELOG = `# Changelog

## [Unreleased]
### Added
- next

## [1.2.0] - 2026-12-01
### Added
- an input

## [1.1.0]
### Fixed
- a bug

[Unreleased]: https://github.com/o/r/compare/v1.2.0...HEAD
[1.2.0]: https://github.com/o/r/compare/v1.1.0...v1.2.0
`;

describe('release: the tag, package.json and the CHANGELOG', () => {
  it('a release tag is vMAJOR.MINOR.PATCH, optionally a pre-release', () => {
    assert.deepEqual(parseTag('v1.2.3'), { major: 1, minor: 2, patch: 3 });
    assert.deepEqual(parseTag('v1.2.3-rc.1'), { major: 1, minor: 2, patch: 3, prerelease: 'rc.1' });
    for (const tag of ['v1', 'v1.2', '1.2.3', 'v1.02.3', 'v1.2.3.4', 'v1.2.3-', 'v1.2.3+build']) assert.equal(parseTag(tag), undefined, tag);
  });

  it('the notes are the dated section of that version, up to the next section or the links', () => {
    assert.deepEqual(changelogSection(CHANGELOG, '1.2.0'), { notes: '### Added\n- an input' });
    assert.deepEqual(changelogSection(CHANGELOG, '1.1.0'), { problem: 'CHANGELOG.md\'s section of 1.1.0 has no date: "## [1.1.0] - YYYY-MM-DD"' });
    assert.deepEqual(changelogSection(CHANGELOG, '1.3.0'), { problem: 'CHANGELOG.md has no section "## [1.3.0] - YYYY-MM-DD"' });
  });

  it('refuses a tag that package.json or the CHANGELOG does not name, saying what to do', () => {
    assert.deepEqual(checkRelease('v1.2.0', '1.2.0', CHANGELOG), { problems: [], notes: '### Added\n- an input' });
    assert.deepEqual(checkRelease('v1.2.0', '1.1.0', CHANGELOG).problems, [
      'package.json\'s version is 1.1.0, the tag says 1.2.0: set "version": "1.2.0" and tag again',
    ]);
    assert.deepEqual(checkRelease('v1.3.0', '1.3.0', CHANGELOG).problems, ['CHANGELOG.md has no section "## [1.3.0] - YYYY-MM-DD"']);
    assert.deepEqual(checkRelease('release-1', '1.2.0', CHANGELOG).problems, [
      'release-1 is not a release tag: use vMAJOR.MINOR.PATCH, e.g. v1.2.3 (or v1.2.3-rc.1)',
    ]);
  });

  it('the major tag moves only to the highest release of its major version that is no pre-release', () => {
    const tags = ['v1', 'v1.0.0', 'v1.1.0', 'v1.10.0-rc.1', 'v2.0.0'];
    assert.equal(majorToMove('v1.2.0', tags), 'v1', 'above every v1.x.y (v1.10.0-rc.1 is a pre-release, v2 another major)');
    assert.equal(majorToMove('v1.10.0', [...tags, 'v1.9.0', 'v1.10.0']), 'v1', '1.10 is above 1.9: numbers, not text');
    assert.equal(majorToMove('v1.0.1', tags), undefined, 'a fix of an older minor: v1 stays on v1.1.0');
    assert.equal(majorToMove('v1.1.0', ['v1.1.0', 'v1.1.1']), undefined, 'tagged again below the highest patch');
    assert.equal(majorToMove('v1.2.0-rc.1', tags), undefined, 'a pre-release');
    assert.equal(majorToMove('v2.0.1', tags), 'v2');
  });
});

describe("this repository's CHANGELOG", () => {
  const changelog = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8');
  const sections = [...changelog.matchAll(/^## \[([^\]]+)\](.*)$/gm)].map((m) => ({ name: m[1]!, rest: m[2]! }));

  it('opens with Unreleased; every released section is dated', () => {
    assert.equal(sections[0]?.name, 'Unreleased');
    for (const { name, rest } of sections.slice(1)) assert.match(rest, /^ - \d{4}-\d{2}-\d{2}$/, `## [${name}] has no date`);
  });

  it('every section has its compare link', () => {
    for (const { name } of sections)
      assert.match(changelog, new RegExp(`^\\[${name.replace(/\./g, '\\.')}\\]: https://github\\.com/\\S+$`, 'm'), `no link for [${name}]`);
  });
});
