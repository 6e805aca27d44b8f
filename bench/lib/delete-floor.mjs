// The floor under the action's prune memory: the same DELETEs (4 in flight, the action's default
// max-parallel) from a process that does nothing else but log in and send them with got, given
// OS_* (password) and a file of image IDs: `node bench/lib/delete-floor.mjs <ids-file>`. Plain
// JavaScript, so that Node loads no TypeScript stripper. Prints the number deleted; run under
// /usr/bin/time for the peak RSS (bench/cases/prune.ts).
import { readFileSync } from 'node:fs';
import got from 'got';
import pMap from 'p-map';

const ids = readFileSync(process.argv[2] ?? '', 'utf8')
  .split('\n')
  .filter(Boolean);
const env = (name) => process.env[name] ?? '';

const login = await got.post(`${env('OS_AUTH_URL').replace(/\/+$/, '')}/auth/tokens`, {
  json: {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: env('OS_USERNAME'), domain: { name: env('OS_USER_DOMAIN_NAME') }, password: env('OS_PASSWORD') } },
      },
      scope: { project: { name: env('OS_PROJECT_NAME'), domain: { name: env('OS_PROJECT_DOMAIN_NAME') } } },
    },
  },
  responseType: 'json',
});
const endpoint = login.body.token.catalog
  .find((service) => service.type === 'image')
  ?.endpoints.find((e) => e.interface === 'public' && e.region === env('OS_REGION_NAME'))?.url;
if (!endpoint) throw new Error('no public image endpoint in the catalog');
const root = endpoint.replace(/\/+$/, '').replace(/\/v2$/, '');
const http = got.extend({ headers: { 'x-auth-token': String(login.headers['x-subject-token']), accept: 'application/json' }, responseType: 'json' });
await pMap(ids, (id) => http.delete(`${root}/v2/images/${id}`), { concurrency: 4 });
console.log(ids.length);
