// Fault injection: per-request faults (status, reset, delay, lose-response, expire-token) are taken
// when a request arrives; snapshot faults (image-killed, image-vanish, stuck) are taken by the next
// matching image-backed createImage.
import type { FaultSpec, ServiceName } from './types.ts';
import { pyJson, statusTitle } from './util.ts';
import type { Reply } from './util.ts';

export interface FaultTarget {
  method: string;
  service: ServiceName | 'local' | null;
  /** Path with query string. */
  path: string;
  region: string | null;
  action?: string;
}

export interface ArmedFault {
  id: number;
  spec: FaultSpec;
  /** Matching requests seen so far. */
  seen: number;
  /** Times applied so far. */
  applied: number;
}

const SNAPSHOT_KINDS = new Set(['image-killed', 'image-vanish', 'stuck']);

export const isSnapshotFault = (spec: FaultSpec): boolean => SNAPSHOT_KINDS.has(spec.kind);

function matches(spec: FaultSpec, t: FaultTarget): boolean {
  const m = spec.match ?? {};
  if (t.service === 'local' || t.service === null) return false;
  if (m.method !== undefined && m.method.toUpperCase() !== t.method.toUpperCase()) return false;
  if (m.service !== undefined && m.service !== t.service) return false;
  if (m.region !== undefined && m.region !== t.region) return false;
  if (m.action !== undefined && m.action !== t.action) return false;
  if (m.path !== undefined) {
    m.path.lastIndex = 0;
    if (!m.path.test(t.path)) return false;
  }
  return true;
}

export class FaultBook {
  private list: ArmedFault[] = [];
  private nextId = 1;

  add(spec: FaultSpec): ArmedFault {
    validate(spec);
    const f: ArmedFault = { id: this.nextId++, spec, seen: 0, applied: 0 };
    this.list.push(f);
    return f;
  }

  clear(): void {
    this.list = [];
  }

  get armed(): readonly ArmedFault[] {
    return this.list;
  }

  private take(t: FaultTarget, snapshot: boolean): ArmedFault | undefined {
    let chosen: ArmedFault | undefined;
    for (const f of this.list) {
      if (isSnapshotFault(f.spec) !== snapshot) continue;
      if (!matches(f.spec, t)) continue;
      f.seen++;
      const times = f.spec.times ?? 1;
      const unlimited = times === Number.POSITIVE_INFINITY || times < 0;
      if (!chosen && f.seen > (f.spec.after ?? 0) && (unlimited || f.applied < times)) {
        f.applied++;
        chosen = f;
      }
    }
    return chosen;
  }

  /** A per-request fault for this request, if one applies (consumes it). */
  takeRequestFault(t: FaultTarget): ArmedFault | undefined {
    return this.take(t, false);
  }

  /** A snapshot fault for an image-backed createImage, if one applies (consumes it). */
  takeSnapshotFault(t: FaultTarget): ArmedFault | undefined {
    return this.take(t, true);
  }
}

function validate(spec: FaultSpec): void {
  const kinds = ['status', 'reset', 'delay', 'lose-response', 'expire-token', 'image-killed', 'image-vanish', 'stuck'];
  if (!spec || typeof spec !== 'object' || !kinds.includes(spec.kind)) throw new Error(`unknown fault kind: ${String((spec as { kind?: unknown })?.kind)}`);
  if (spec.match === undefined || typeof spec.match !== 'object') throw new Error('fault needs a match object (use {} to match everything)');
  if (spec.kind === 'status' && !(Number.isInteger(spec.status) && spec.status >= 100 && spec.status <= 599)) throw new Error('status fault needs an HTTP status');
  if (spec.kind === 'delay' && !(typeof spec.ms === 'number' && spec.ms >= 0)) throw new Error('delay fault needs ms');
  if (spec.match.path !== undefined && !(spec.match.path instanceof RegExp)) throw new Error('match.path must be a RegExp');
}

/** The reply for a 'status' fault: the given body, or what a real front end sends for that code. */
export function statusFaultReply(spec: Extract<FaultSpec, { kind: 'status' }>): Reply {
  const headers: Record<string, string> = { ...(spec.headers ?? {}) };
  const hasCt = Object.keys(headers).some((h) => h.toLowerCase() === 'content-type');
  let body: string;
  if (spec.body === undefined) {
    if (spec.status === 429) {
      // OVH's documented rate-limit body (api_rate_limits guide).
      body = JSON.stringify({ error: { status: '429 Too Many Requests', message: 'Too Many Requests' } });
      if (!hasCt) headers['Content-Type'] = 'application/json';
    } else {
      // What a load balancer / reverse proxy in front of the API answers (haproxy/nginx style).
      const title = `${spec.status} ${statusTitle(spec.status)}`;
      body = `<html><body><h1>${title}</h1>\nThe server encountered a problem and could not complete your request.\n</body></html>\n`;
      if (!hasCt) headers['Content-Type'] = 'text/html';
    }
  } else if (typeof spec.body === 'string') {
    body = spec.body;
    if (!hasCt) headers['Content-Type'] = 'text/plain; charset=UTF-8';
  } else {
    body = pyJson(spec.body);
    if (!hasCt) headers['Content-Type'] = 'application/json';
  }
  return { status: spec.status, headers, body };
}

/** Parse a FaultSpec sent as JSON over the admin API (path regex given as a string). */
export function faultFromJson(raw: unknown): FaultSpec {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error('fault must be a JSON object');
  const r = raw as Record<string, unknown>;
  const match = { ...((r.match as Record<string, unknown>) ?? {}) };
  if (typeof match.path === 'string') match.path = new RegExp(match.path);
  else if (match.path && typeof match.path === 'object' && typeof (match.path as { source?: unknown }).source === 'string') {
    const p = match.path as { source: string; flags?: string };
    match.path = new RegExp(p.source, p.flags ?? '');
  }
  const times = r.times === -1 || r.times === null || r.times === 'Infinity' ? Number.POSITIVE_INFINITY : r.times;
  return { ...r, match, ...(times !== undefined ? { times } : {}) } as unknown as FaultSpec;
}
