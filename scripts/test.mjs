// `npm test`: build dist/ (the end-to-end tests run the bundle as the runner does), type-check,
// then run every test file with Node's own runner: unit, the contract suite against the local
// cloud, end-to-end. Runs under the Node 24 that `npm ci` installs.
// This file must load on any Node: what needs Node 24 is imported only once the version is checked.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

if (!process.version.startsWith('v24')) {
  // One line that says what to do. The `node` devDependency brings Node 24 by an install script.
  const found = `found Node ${process.version}`;
  if (!existsSync('node_modules')) console.error(`npm test needs the project's Node 24 (${found}): run 'npm ci' first, then 'npm test'.`);
  else if (!existsSync('node_modules/node/bin/node'))
    console.error(
      `npm test needs Node 24, which 'npm ci' installs by the install script of the 'node' devDependency (${found}; were scripts ignored?): run 'npm rebuild node', then 'npm test'.`,
    );
  else console.error(`npm test needs the project's Node 24 (${found}): run it as 'npm test', which puts node_modules/.bin/node first on the PATH.`);
  process.exit(1);
}
const { globSync } = await import('node:fs');

const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

const tiers = process.argv.slice(2);
const patterns = tiers.length ? tiers.map((t) => `test/${t}/**/*.test.ts`) : ['test/unit/**/*.test.ts', 'test/contract/**/*.test.ts', 'test/e2e/**/*.test.ts'];
run('npm', ['run', '-s', 'typecheck']);
run('npm', ['run', '-s', 'build']);
const files = patterns.flatMap((p) => globSync(p)).sort();
run(process.execPath, ['--test', '--test-concurrency=2', ...files], {
  env: { ...process.env, HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '' },
});
