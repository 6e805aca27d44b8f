// Fault injection: per-request faults (status, reset, delay, lose-response, expire-token, unfiltered) are taken
// when a request arrives; faults of what Nova does (image-killed, image-vanish, stuck, rebuild-error) by the
// next matching image-backed createImage or rebuild.
import type { FaultMatch, FaultSpec, RecordService } from './types.ts';
import { json, pyJson, statusTitle, type Reply } from './http.ts';

export interface FaultTarget {
  method: string;
  service: RecordService;
  /** Path with query string. */
  path: string;
  region: string | null;
  action?: string;
}

export interface ArmedFault {
  spec: FaultSpec;
  /** Matching requests seen so far. */
  seen: number;
  /** Times applied so far. */
  applied: number;
}

/** When a fault is taken: as a request arrives, or by what Nova does for a createImage or a rebuild. */
export type FaultMoment = 'request' | 'createImage' | 'rebuild' | 'boot' | 'upload';
const MOMENT: Record<string, FaultMoment> = {
  'upload-refused': 'upload',
  'image-killed': 'createImage',
  'image-vanish': 'createImage',
  stuck: 'createImage',
  'rebuild-error': 'rebuild',
  'boot-error': 'boot',
  'boot-stuck': 'boot',
};

export function matches(m: FaultMatch, t: FaultTarget): boolean {
  return (
    (m.method === undefined || m.method.toUpperCase() === t.method) &&
    (m.service === undefined || m.service === t.service) &&
    (m.region === undefined || m.region === t.region) &&
    (m.action === undefined || m.action === t.action) &&
    (m.path === undefined || new RegExp(m.path.source, m.path.flags.replace('g', '')).test(t.path))
  );
}

export class FaultBook {
  #list: ArmedFault[] = [];

  add(spec: FaultSpec): void {
    if (spec.kind === 'delay' && !(spec.ms >= 0)) throw new Error('a delay fault needs ms');
    this.#list.push({ spec, seen: 0, applied: 0 });
  }

  clear(): void {
    this.#list = [];
  }

  get armed(): readonly ArmedFault[] {
    return this.#list;
  }

  /** The first armed fault of that moment this request triggers (every match counts as seen). */
  take(t: FaultTarget, moment: FaultMoment): ArmedFault | undefined {
    let chosen: ArmedFault | undefined;
    for (const f of this.#list) {
      if ((MOMENT[f.spec.kind] ?? 'request') !== moment || !matches(f.spec.match, t)) continue;
      f.seen += 1;
      if (!chosen && f.seen > (f.spec.after ?? 0) && f.applied < (f.spec.times ?? 1)) {
        f.applied += 1;
        chosen = f;
      }
    }
    return chosen;
  }
}

/** The reply of a 'status' fault: the given body, or what a front end sends for that code. */
export function statusFaultReply(spec: Extract<FaultSpec, { kind: 'status' }>): Reply {
  const given = spec.headers ?? {};
  const typed = (type: string): Record<string, string> => (Object.keys(given).some((h) => h.toLowerCase() === 'content-type') ? {} : { 'Content-Type': type });
  if (spec.body !== undefined) {
    const text = typeof spec.body === 'string';
    return {
      status: spec.status,
      headers: { ...typed(text ? 'text/plain; charset=UTF-8' : 'application/json'), ...given },
      body: text ? (spec.body as string) : pyJson(spec.body),
    };
  }
  // OVH's documented rate-limit body (api_rate_limits guide).
  if (spec.status === 429)
    return { ...json(429, { error: { status: '429 Too Many Requests', message: 'Too Many Requests' } }), headers: { ...typed('application/json'), ...given } };
  // A load balancer's page (haproxy/nginx style).
  const title = `${spec.status} ${statusTitle(spec.status)}`;
  return {
    status: spec.status,
    headers: { ...typed('text/html'), ...given },
    body: `<html><body><h1>${title}</h1>\nThe server encountered a problem and could not complete your request.\n</body></html>\n`,
  };
}
