// What the services share: the request context the router hands them, the reply they return,
// and the bodies the real services answer with (Python's json.dumps separators, webob's errors).
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { EndpointInterface, RecordService, RequestRecord } from './types.ts';

export interface Ctx {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: Buffer;
  service: RecordService;
  iface: EndpointInterface | null;
  region: string | null;
  /** Path after the service's endpoint prefix, e.g. '/v2.1/<project>/servers/abc/action'. */
  rest: string;
  record: RequestRecord;
  /** The 'unfiltered' fault applies. */
  unfiltered?: boolean;
  /** The 'corrupt-data' fault applies. */
  corrupt?: boolean;
}

/** What a handler returns; the router writes it (or, for faults, delays or drops it). */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  /** Text, or bytes (Glance's image data). */
  body: string | Buffer;
}

export const uuid = (): string => randomUUID();
export const hex32 = (): string => randomUUID().replace(/-/g, '');

export const header = (ctx: Ctx, name: string): string | undefined => {
  const value = ctx.headers[name];
  return Array.isArray(value) ? value.join(',') : value;
};

/** JSON as Python's json.dumps writes it (', ' and ': ', non-ASCII as \uXXXX): a secret echoed in a body keeps the form the real one gives it. */
export function pyJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(pyJson).join(', ')}]`;
  if (value && typeof value === 'object') {
    const entries = value instanceof Map ? [...value] : Object.entries(value);
    return `{${entries
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${pyJson(String(k))}: ${pyJson(v)}`)
      .join(', ')}}`;
  }
  return (JSON.stringify(value ?? null) ?? 'null').replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'Content-Type': 'application/json', ...headers },
  body: pyJson(body),
});

export const empty = (status: number, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'Content-Type': 'text/html; charset=UTF-8', ...headers },
  body: '',
});

/** Nova's and Cinder's fault bodies: {"badRequest": {"code": 400, "message": ...}}. */
export const fault = (status: number, key: string, message: string, headers: Record<string, string> = {}): Reply =>
  json(status, { [key]: { code: status, message } }, { ...headers, 'Content-Type': 'application/json; charset=UTF-8' });

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
export const statusTitle = (status: number): string => TITLES[status] ?? 'Error';

const htmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A webob error as Glance sends it: HTML, or JSON when the client accepts JSON (the action does). */
export function webobError(status: number, explanation: string, ctx: Ctx, headers: Record<string, string> = {}): Reply {
  const title = statusTitle(status);
  if (/application\/json/.test(header(ctx, 'accept') ?? '')) {
    return json(status, { message: `${explanation}<br /><br />\n\n\n`, code: `${status} ${title}`, title }, headers);
  }
  return {
    status,
    headers: { 'Content-Type': 'text/html; charset=UTF-8', ...headers },
    body: `<html>\n <head>\n  <title>${status} ${title}</title>\n </head>\n <body>\n  <h1>${status} ${title}</h1>\n  ${htmlEscape(explanation)}<br /><br />\n\n\n\n </body>\n</html>`,
  };
}

/** The request's JSON body, or undefined when it is not JSON. */
export function parseJson(buf: Buffer): unknown {
  try {
    return buf.length ? JSON.parse(buf.toString('utf8')) : undefined;
  } catch {
    return undefined;
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Floor to whole seconds: the services' MySQL DATETIME columns keep no fractions. */
export const floorSecond = (ms: number): number => Math.floor(ms / 1000) * 1000;
/** 2026-11-24T00:57:08Z (Glance, Nova). */
export const isoZ = (ms: number): string => new Date(floorSecond(ms)).toISOString().replace(/\.\d{3}Z$/, 'Z');
/** 2026-11-24T00:57:08.000000Z (Keystone expires_at). */
export const isoMicroZ = (ms: number): string => new Date(floorSecond(ms)).toISOString().replace(/\.\d{3}Z$/, '.000000Z');
/** 2026-11-24T00:59:00.000000 (Cinder: naive, no zone). */
export const isoMicroNaive = (ms: number): string => new Date(floorSecond(ms)).toISOString().replace(/\.\d{3}Z$/, '.000000');

export function toMs(v: Date | string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const t = v instanceof Date ? v.getTime() : Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`invalid date: ${String(v)}`);
  return t;
}

/** Keyset paging as Nova and Cinder do it: `limit` items after `marker` (undefined: unknown marker), in `sorted` order. */
export function page<T extends { id: string }>(sorted: T[], params: URLSearchParams): T[] | undefined {
  const limit = Math.min(Number(params.get('limit') ?? 1000), 1000);
  const marker = params.get('marker');
  const start = marker === null ? 0 : sorted.findIndex((item) => item.id === marker) + 1;
  return start === 0 && marker !== null ? undefined : sorted.slice(start, start + limit);
}

/** The link to the page after `items` when it is full: the same query with the last ID as marker. */
export function nextLink(base: string, params: URLSearchParams, items: { id: string }[]): { rel: string; href: string }[] | undefined {
  const limit = Math.min(Number(params.get('limit') ?? 1000), 1000);
  if (items.length === 0 || items.length < limit) return undefined;
  const next = new URLSearchParams(params);
  next.set('marker', items[items.length - 1]!.id);
  return [{ rel: 'next', href: `${base}?${next}` }];
}
