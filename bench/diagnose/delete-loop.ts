// Child process for the HTTP-client comparison (bench/cases/diagnose.ts): DELETE every image ID
// of a file, `concurrency` at a time, through the action's own HTTP client (got, configured by
// src/openstack/client.ts's createHttp, as the action does), Node's built-in fetch, or plain
// node:http with a keep-alive agent. Its peak RSS is measured from outside (/usr/bin/time).
//
//   node bench/diagnose/delete-loop.ts got|fetch|http <glance root> <token> <ids file> [concurrency]
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createHttp } from '../../src/openstack/client.ts';

const [client, root, token, idsFile, concurrencyArg] = process.argv.slice(2);
const ids = readFileSync(idsFile!, 'utf8').split('\n').filter(Boolean);
const concurrency = Number(concurrencyArg ?? 4);

let del: (id: string) => Promise<void>;
if (client === 'got') {
  const http = createHttp({ rateLimit: 0 }).extend({ headers: { 'x-auth-token': token } });
  del = async (id) => {
    await http.delete(`${root}/v2/images/${id}`);
  };
} else if (client === 'http') {
  const agent = new Agent({ keepAlive: true });
  del = (id) =>
    new Promise<void>((done, fail) => {
      const req = request(`${root}/v2/images/${id}`, { method: 'DELETE', agent, headers: { 'x-auth-token': token, accept: 'application/json' } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 204 ? done() : fail(new Error(`DELETE ${id}: ${res.statusCode}`))));
      });
      req.on('error', fail);
      req.end();
    });
} else {
  del = async (id) => {
    const response = await fetch(`${root}/v2/images/${id}`, { method: 'DELETE', headers: { 'x-auth-token': token, accept: 'application/json' } });
    await response.arrayBuffer();
    if (response.status !== 204) throw new Error(`DELETE ${id}: ${response.status}`);
  };
}

let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < ids.length) await del(ids[next++]!);
  }),
);
