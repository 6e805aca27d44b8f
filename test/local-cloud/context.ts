// The per-request context the router hands to each service.
import type { IncomingHttpHeaders } from 'node:http';
import type { EndpointInterface, RecordService, RequestRecord } from './types.ts';

export interface Ctx {
  method: string;
  /** Full URL of the request (http://127.0.0.1:PORT/...). */
  url: URL;
  headers: IncomingHttpHeaders;
  body: Buffer;
  service: RecordService;
  iface: EndpointInterface | null;
  region: string | null;
  /** Path prefix of the service endpoint, e.g. '/compute-internal/GRA7' (no trailing slash). */
  prefix: string;
  /** Pathname after the prefix, e.g. '/v2.1/servers/abc/action' (may be ''). */
  rest: string;
  record: RequestRecord;
  /** Set by the router for POST .../action requests: the action name and its parsed body. */
  action?: string;
}

export const header = (ctx: Ctx, name: string): string | undefined => {
  const v = ctx.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(',') : v;
};
