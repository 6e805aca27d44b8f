// The action's start (issue 19): what only some runs need is a chunk of dist/ of its own, loaded
// by those runs alone. A password run loads dist/index.js and nothing else, and makes no
// Intl.ListFormat (ICU's data: patches/@sindresorhus+is); a run that names a cloud of clouds.yaml
// loads the YAML parser's chunk as well. The github-oidc login loads @actions/core's OIDC client
// (patches/@actions+core), another chunk: the real tier's logins test runs it through dist/.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { DIST } from '../support/run-action.ts';
import { assertSuccess, passwordInputs, startCloud, step, type LocalCloud } from './harness.ts';

const MISSING = { mode: 'delete', 'snapshot-id': '00000000-0000-4000-8000-000000000000' };
const DIR = dirname(DIST);

// Run by the action's process (--import): Node's module hooks see every module it loads, the
// chunks that import() brings included, and every Intl.ListFormat made is noted.
const HOOK = `import { registerHooks } from 'node:module';
import { appendFileSync } from 'node:fs';
const note = (line) => appendFileSync(process.env.OSA_LOADED, line + '\\n');
registerHooks({ load(url, context, next) { note(url); return next(url, context); } });
Intl.ListFormat = class extends Intl.ListFormat { constructor(...args) { super(...args); note('Intl.ListFormat'); } };`;

describe('e2e: the files of dist/ that a run loads', () => {
  let cloud: LocalCloud;
  let dir: string;
  before(async () => {
    cloud = await startCloud();
    dir = mkdtempSync(join(tmpdir(), 'osa-loaded-'));
    writeFileSync(join(dir, 'hook.mjs'), HOOK);
  });
  after(async () => {
    await cloud.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A delete of a missing snapshot: the files of dist/ it loaded, then 'Intl.ListFormat' if it made one. */
  async function loaded(name: string, inputs: Record<string, string>, env: Record<string, string> = {}): Promise<string[]> {
    const list = join(dir, `${name}.txt`);
    writeFileSync(list, '');
    const s = await step(cloud, { ...MISSING, ...inputs }, { NODE_OPTIONS: `--import=${pathToFileURL(join(dir, 'hook.mjs')).href}`, OSA_LOADED: list, ...env });
    assertSuccess(s);
    const lines = readFileSync(list, 'utf8').split('\n');
    const files = lines.filter((url) => url.startsWith(`${pathToFileURL(DIR).href}/`)).map((url) => basename(new URL(url).pathname));
    return lines.includes('Intl.ListFormat') ? [...files, 'Intl.ListFormat'] : files;
  }

  test('a password login: dist/index.js alone, and no Intl.ListFormat', async () => {
    assert.deepEqual(await loaded('password', passwordInputs(cloud)), ['index.js']);
  });

  test('a cloud of clouds.yaml: the YAML parser’s chunk too', async () => {
    const { authUrl, demo } = cloud;
    const auth = [`auth_url: ${authUrl}`, `username: ${demo.username}`, `password: ${demo.password}`, `project_name: ${demo.projectName}`];
    writeFileSync(join(dir, 'clouds.yaml'), ['clouds:', '  c:', '    region_name: GRA7', '    auth:', ...auth.map((line) => `      ${line}`), ''].join('\n'));
    const files = await loaded('clouds-yaml', { cloud: 'c' }, { OS_CLIENT_CONFIG_FILE: join(dir, 'clouds.yaml') });
    assert.equal(files.length, 2, files.join(', '));
    assert.equal(files[0], 'index.js');
    assert.match(readFileSync(join(DIR, files[1] ?? ''), 'utf8'), /LineCounter/, 'the chunk is the YAML parser');
  });

  // Its user agent names it.
  test('the OIDC client is in a chunk of its own', () => {
    const holding = readdirSync(DIR).filter((file) => file.endsWith('.js') && readFileSync(join(DIR, file), 'utf8').includes("'actions/oidc-client'"));
    assert.equal(holding.length, 1, holding.join(', '));
    assert.notEqual(holding[0], 'index.js');
  });
});
