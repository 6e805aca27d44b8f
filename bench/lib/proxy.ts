// A counting HTTP reverse proxy for the real (loopback) cloud: one listener per upstream port, so
// the action and the CLI can be pointed at it with OS_AUTH_URL alone. Every URL of an upstream in a
// response (Keystone's catalog and version documents, Glance's and Nova's links, Location headers)
// is rewritten to the proxy's listener for that upstream, so every later request goes through it
// too. The proxy records each request server-side: arrival and completion times, service, method,
// path, status, and for a Glance image GET, the image's status and timestamps as Glance answered.
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { now } from './clock.ts';

export interface Upstream {
  /** A label for the report: identity, compute, image, volume, placement. */
  service: string;
  host: string;
  port: number;
}

export interface ProxyRecord {
  /** Arrival of the request headers at the proxy (epoch ms, sub-ms). */
  t: number;
  /** When the proxy finished sending the response. */
  tEnd: number;
  service: string;
  method: string;
  path: string;
  status: number;
  /** Glance GET /v2/images/{id}: what the answer said. */
  image?: { id: string; status: string; createdAt: string; updatedAt: string };
  error?: string;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'content-length']);
const IMAGE_GET = /^\/(?:v2\/)?images\/([0-9a-f-]{36})\/?(?:\?.*)?$/i;

export class CountingProxy {
  readonly records: ProxyRecord[] = [];
  readonly #servers: Server[] = [];
  #rewrites: [RegExp, string][] = [];

  static async start(upstreams: Upstream[]): Promise<CountingProxy> {
    const proxy = new CountingProxy();
    /** upstream port -> listener port */
    const ports = new Map<number, number>();
    for (const upstream of upstreams) {
      const server = createServer((req, res) => void proxy.#handle(upstream, req, res));
      server.keepAliveTimeout = 5_000;
      await new Promise<void>((done, fail) => {
        server.once('error', fail);
        server.listen(0, '127.0.0.1', () => done());
      });
      ports.set(upstream.port, (server.address() as AddressInfo).port);
      proxy.#servers.push(server);
    }
    proxy.#rewrites = upstreams.flatMap((u) => {
      const to = `127.0.0.1:${ports.get(u.port)}`;
      const hosts = u.host === '127.0.0.1' ? ['127.0.0.1', 'localhost'] : [u.host];
      // Not followed by another digit: :5000 must not match :50001.
      return hosts.map((h): [RegExp, string] => [new RegExp(`(//)${h.replace(/\./g, '\\.')}:${u.port}(?!\\d)`, 'g'), `$1${to}`]);
    });
    return proxy;
  }

  /** The URL a client should use instead of an upstream URL. */
  rewrite(text: string): string {
    let out = text;
    for (const [from, to] of this.#rewrites) out = out.replace(from, to);
    return out;
  }

  /** Records from index `from` on (take `records.length` before a run, slice after it). */
  since(from: number): ProxyRecord[] {
    return this.records.slice(from);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.#servers.map(
        (s) =>
          new Promise<void>((done) => {
            s.close(() => done());
            s.closeAllConnections();
          }),
      ),
    );
  }

  async #handle(upstream: Upstream, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const rec: ProxyRecord = { t: now(), tEnd: 0, service: upstream.service, method: req.method ?? 'GET', path: req.url ?? '/', status: 0 };
    this.records.push(rec);
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined || HOP_BY_HOP.has(k) || k === 'host' || k === 'accept-encoding') continue;
      headers[k] = v;
    }
    headers.host = `${upstream.host}:${upstream.port}`;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    if (body.length || req.headers['content-length'] !== undefined) headers['content-length'] = String(body.length);

    try {
      // No upstream keep-alive: Keystone closes every connection anyway, and a pooled socket the
      // other Python servers closed while idle would turn into a spurious error here.
      const upstreamRes = await new Promise<IncomingMessage>((done, fail) => {
        const out = httpRequest({ host: upstream.host, port: upstream.port, method: rec.method, path: rec.path, headers, agent: false }, done);
        out.on('error', fail);
        out.end(body);
      });
      const parts: Buffer[] = [];
      for await (const c of upstreamRes) parts.push(c as Buffer);
      let payload: Buffer = Buffer.concat(parts);
      const type = String(upstreamRes.headers['content-type'] ?? '');
      if (/json|text/.test(type) && payload.length) {
        const text = payload.toString('utf8');
        this.#inspect(rec, upstreamRes.statusCode ?? 0, text);
        payload = Buffer.from(this.rewrite(text), 'utf8');
      }
      const outHeaders: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(upstreamRes.headers)) {
        if (v === undefined || HOP_BY_HOP.has(k)) continue;
        outHeaders[k] = k === 'location' && typeof v === 'string' ? this.rewrite(v) : v;
      }
      const status = upstreamRes.statusCode ?? 502;
      if (status !== 204 && status !== 304) outHeaders['content-length'] = String(payload.length);
      // Keystone (uwsgi) sends Connection: close: keep that behaviour for the client.
      if (/close/i.test(String(upstreamRes.headers.connection ?? ''))) outHeaders.connection = 'close';
      rec.status = status;
      res.writeHead(status, outHeaders);
      await new Promise<void>((done) => res.end(status === 204 || status === 304 || rec.method === 'HEAD' ? undefined : payload, () => done()));
    } catch (error) {
      rec.status = 502;
      rec.error = (error as Error).message;
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`bench proxy: ${(error as Error).message}`);
    }
    rec.tEnd = now();
  }

  /** A Glance GET of one image: what the answer said (the report bounds the active moment with it). */
  #inspect(rec: ProxyRecord, status: number, text: string): void {
    if (status !== 200 || rec.service !== 'image' || rec.method !== 'GET' || !IMAGE_GET.test(rec.path)) return;
    try {
      const body = JSON.parse(text) as { id: string; status: string; created_at: string; updated_at: string };
      rec.image = { id: body.id, status: body.status, createdAt: body.created_at, updatedAt: body.updated_at };
    } catch {
      // not JSON after all
    }
  }
}

/** What the report counts: requests by service and method (and Nova actions). */
export function countBy(records: readonly { service: string; method: string; path: string }[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const r of records) {
    let key = `${r.service} ${r.method}`;
    if (r.service === 'identity' && r.method === 'POST' && /auth\/tokens/.test(r.path)) key = 'identity POST /auth/tokens';
    else if (r.service === 'compute' && r.method === 'POST' && /\/action$/.test(r.path)) key = 'compute POST action';
    else if (r.service === 'image' && r.method === 'GET' && /\/v2\/images\/[^/?]+/.test(r.path)) key = 'image GET /v2/images/{id}';
    else if (r.service === 'image' && r.method === 'GET' && /\/v2\/images(\?|$)/.test(r.path)) key = 'image GET /v2/images (list)';
    else if (r.service === 'image' && r.method === 'DELETE') key = 'image DELETE';
    else if (r.method === 'GET' && /^\/(v\d[\d.]*\/?)?(\?.*)?$/.test(r.path.replace(/^\/(glance|compute|identity)\/[^/]*/, '') || '/'))
      key = `${r.service} GET (version discovery)`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
}
