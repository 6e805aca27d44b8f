// `npm test`: build dist/ (the end-to-end tests run the bundle as the runner does), type-check,
// then run every test file with Node's own runner: unit, the contract suite against the local
// cloud, end-to-end. Runs under the Node 24 that `npm ci` installs.
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';

const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) process.exit(r.status ?? 1);
};

const tiers = process.argv.slice(2);
const patterns = tiers.length ? tiers.map((t) => `test/${t}/**/*.test.ts`) : ['test/unit/**/*.test.ts', 'test/contract/**/*.test.ts', 'test/e2e/**/*.test.ts'];
if (!process.version.startsWith('v24')) {
  console.error(`npm test needs the Node 24 that 'npm ci' installs (found ${process.version}); run it through npm.`);
  process.exit(1);
}
run('npm', ['run', '-s', 'typecheck']);
run('npm', ['run', '-s', 'build']);
const files = patterns.flatMap((p) => globSync(p)).sort();
run(process.execPath, ['--test', '--test-concurrency=2', ...files], {
  env: { ...process.env, HTTP_PROXY: '', HTTPS_PROXY: '', http_proxy: '', https_proxy: '' },
});
