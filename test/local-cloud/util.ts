// Small helpers shared by the local cloud's services: Python-compatible JSON and repr (the real
// services are Python and their bodies use json.dumps' ", " / ": " separators), webob-style error
// bodies with Accept negotiation, ids and time formatting.
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** What a handler returns; the router writes it (or, for faults, delays or drops it). */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

export const uuid = (): string => randomUUID();
export const hex32 = (): string => randomBytes(16).toString('hex');
export const requestId = (): string => `req-${randomUUID()}`;

/** Fernet-looking opaque token (the real ones start with gAAAAA and are ~180 url-safe chars). */
export const opaqueToken = (): string => `gAAAAA${randomBytes(132).toString('base64url')}`;

/** JSON exactly as Python's json.dumps writes it (separators ', ' and ': '). */
export function pyJson(value: unknown, ensureAscii = true): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') {
    const s = JSON.stringify(value);
    return ensureAscii ? s.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : s;
  }
  if (typeof value === 'number' || typeof value === 'boolean') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => pyJson(v, ensureAscii)).join(', ')}]`;
  if (value instanceof Map) {
    // Ordered objects (JS objects put integer-like keys first; Python dicts keep insertion order).
    const parts: string[] = [];
    for (const [k, v] of value as Map<string, unknown>) if (v !== undefined) parts.push(`${pyJson(String(k), ensureAscii)}: ${pyJson(v, ensureAscii)}`);
    return `{${parts.join(', ')}}`;
  }
  if (typeof value === 'object') {
    const parts: string[] = [];
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      if (v === undefined) continue;
      parts.push(`${pyJson(k, ensureAscii)}: ${pyJson(v, ensureAscii)}`);
    }
    return `{${parts.join(', ')}}`;
  }
  return 'null';
}

/** Python repr() of a JSON value, as used in Nova's jsonschema error messages. */
export function pyRepr(value: unknown): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(value);
  if (typeof value === 'string') {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    const body = value
      .replace(/\\/g, '\\\\')
      .replace(/\n/g, '\\n')
      .replace(/\r/g, '\\r')
      .replace(/\t/g, '\\t')
      .replace(quote === "'" ? /'/g : /"/g, quote === "'" ? "\\'" : '\\"');
    return `${quote}${body}${quote}`;
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  if (typeof value === 'object') {
    return `{${Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${pyRepr(k)}: ${pyRepr(v)}`)
      .join(', ')}}`;
  }
  return String(value);
}

/** Python str() of a JSON value (strings unquoted, containers as repr). */
export const pyStr = (value: unknown): string => (typeof value === 'string' ? value : pyRepr(value));

/** Python urllib.parse.urlencode (quote_plus) of ordered pairs. */
export function urlencode(pairs: Iterable<[string, string]>): string {
  const q = (s: string) =>
    encodeURIComponent(s)
      .replace(/[!'()*~]/g, (c) => (c === '~' ? '~' : `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
      .replace(/%20/g, '+');
  return [...pairs].map(([k, v]) => `${q(k)}=${q(v)}`).join('&');
}

/** Query pairs as the server received them (order kept, '+' decoded as space). */
export function queryPairs(search: string): [string, string][] {
  return [...new URLSearchParams(search)];
}

/** webob MultiDict -> dict(): first position of each key, last value wins. */
export function lastWins(pairs: [string, string][]): Map<string, string> {
  const m = new Map<string, string>();
  for (const [k, v] of pairs) m.set(k, v);
  return m;
}

// ---------------------------------------------------------------------------------------------
// Time

/** Floor to whole seconds: MySQL DATETIME columns (Glance, Nova) keep no fractions. */
export const floorSecond = (ms: number): number => Math.floor(ms / 1000) * 1000;

/** 2026-11-24T00:57:08Z (Glance, Nova created/updated). */
export const isoZ = (ms: number): string => new Date(floorSecond(ms)).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** 2026-11-24T00:57:08.000000Z (Keystone fernet expires_at / issued_at). */
export const isoMicroZ = (ms: number): string => new Date(floorSecond(ms)).toISOString().replace(/\.\d{3}Z$/, '.000000Z');

/** 2026-11-24T00:59:00.000000 (Cinder created_at, Nova launched_at: naive, no zone). */
export const isoMicroNaive = (ms: number): string => new Date(floorSecond(ms)).toISOString().replace(/\.\d{3}Z$/, '.000000');

/** Parse an ISO 8601 date the way oslo's parse_isotime accepts it (date-only, offsets, Z). Returns NaN if invalid. */
export function parseIso(s: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(s.trim());
  if (!m) return Number.NaN;
  const [, y, mo, d, h = '00', mi = '00', se = '00', frac = '', zone] = m;
  let z = 'Z';
  if (zone && zone.toUpperCase() !== 'Z') z = zone.length === 3 ? `${zone}:00` : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const ms = frac ? `.${frac.slice(0, 3).padEnd(3, '0')}` : '';
  const t = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${se}${ms}${z}`);
  return t;
}

export function toMs(v: Date | string | number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (v instanceof Date) return v.getTime();
  if (typeof v === 'number') return v;
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new Error(`invalid date: ${v}`);
  return t;
}

// ---------------------------------------------------------------------------------------------
// MySQL utf8_general_ci-like comparison: case-insensitive, accent-insensitive, trailing spaces ignored
// (Glance and Nova run on MySQL/MariaDB; `?name=FOO` finds `foo` on the real cloud).

export function ci(s: string): string {
  let out = s.replace(/ +$/, '').toLowerCase();
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(out)) out = out.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
  return out;
}

// ---------------------------------------------------------------------------------------------
// webob error bodies (Glance, and the Nova/Cinder routers for unknown paths)

type Offer = 'text/html' | 'application/json';

/** webob's Accept negotiation over the offers ['text/html', 'application/json']; null = text/plain. */
export function negotiate(accept: string | undefined): Offer | null {
  const offers: Offer[] = ['text/html', 'application/json'];
  if (accept === undefined || accept.trim() === '') return 'text/html';
  const ranges = accept
    .split(',')
    .map((part) => {
      const [range = '', ...params] = part.trim().split(';');
      let q = 1;
      for (const p of params) {
        const [k, v] = p.trim().split('=');
        if (k?.trim().toLowerCase() === 'q' && v !== undefined) q = Number(v);
      }
      return { range: range.trim().toLowerCase(), q: Number.isFinite(q) ? q : 0 };
    })
    .filter((r) => r.range.includes('/'));
  if (ranges.length === 0) return null;
  const scored = offers.map((offer, idx) => {
    const [type] = offer.split('/');
    let best: { spec: number; q: number } | null = null;
    for (const r of ranges) {
      const spec = r.range === offer ? 3 : r.range === `${type}/*` ? 2 : r.range === '*/*' ? 1 : 0;
      if (spec && (!best || spec > best.spec)) best = { spec, q: r.q };
    }
    return { offer, idx, q: best ? best.q : 0 };
  });
  const ok = scored.filter((s) => s.q > 0).sort((a, b) => b.q - a.q || a.idx - b.idx);
  return ok[0]?.offer ?? null;
}

const TITLES: Record<number, string> = {
  300: 'Multiple Choices',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
export const statusTitle = (status: number): string => TITLES[status] ?? 'Error';

const htmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * A webob HTTPException response, byte-compatible with what Glance sends: HTML by default, JSON with
 * `Accept: application/json`, text/plain when neither is acceptable.
 */
export function webobError(
  status: number,
  explanation: string,
  headers: IncomingHttpHeaders,
  opts: { detail?: string; extraHeaders?: Record<string, string> } = {},
): Reply {
  const title = statusTitle(status);
  const detail = opts.detail ?? '';
  const body = (esc: (s: string) => string) => `${esc(explanation)}<br /><br />\n${esc(detail)}\n\n`;
  const match = negotiate(headers.accept);
  const extra = opts.extraHeaders ?? {};
  if (match === 'application/json') {
    return {
      status,
      headers: { 'Content-Type': 'application/json', ...extra },
      body: pyJson({ message: body((s) => s), code: `${status} ${title}`, title }),
    };
  }
  if (match === 'text/html') {
    return {
      status,
      headers: { 'Content-Type': 'text/html; charset=UTF-8', ...extra },
      body: `<html>\n <head>\n  <title>${status} ${title}</title>\n </head>\n <body>\n  <h1>${status} ${title}</h1>\n  ${body(htmlEscape)}\n </body>\n</html>`,
    };
  }
  const plain = body((s) => s)
    .replace(/\n/g, ' ')
    .replace(/\r/g, '')
    .replace(/<br.*?>/gi, '\n')
    .replace(/<.*?>/g, '');
  return { status, headers: { 'Content-Type': 'text/plain; charset=UTF-8', ...extra }, body: `${status} ${title}\n\n${plain}` };
}

export const json = (status: number, body: unknown, headers: Record<string, string> = {}, ensureAscii = true): Reply => ({
  status,
  headers: { 'Content-Type': 'application/json', ...headers },
  body: pyJson(body, ensureAscii),
});

export const empty = (status: number, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'Content-Type': 'text/html; charset=UTF-8', ...headers },
  body: '',
});

/** Parse a JSON request body; undefined when it is not valid JSON. */
export function parseJson(buf: Buffer): unknown {
  if (buf.length === 0) return undefined;
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined;
  }
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Deterministic-looking fake md5 / sha512 hex strings for uploaded snapshot data. */
export const randomHex = (bytes: number): string => randomBytes(bytes).toString('hex');
export const EMPTY_MD5 = 'd41d8cd98f00b204e9800998ecf8427e';
export const EMPTY_SHA512 =
  'cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e';
