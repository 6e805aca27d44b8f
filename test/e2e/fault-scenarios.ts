// The FAULT MATRIX as data: every fault of the local cloud alone and some combined, in create,
// delete and prune. faults.test.ts runs the table; secrets.test.ts reuses it. Each scenario
// seeds its own server and images (unique names) through a builder per mode (create, deleting,
// pruning), which also sets that mode's usual expectations, so a scenario states only its faults
// and what is special about it; runScenario() arms the faults, runs the action and checks, for
// every scenario alike:
//   - the outcome (success, or an error containing the given fragments),
//   - that every armed fault was actually applied (a fault that never fired proves nothing),
//   - the number of snapshots Nova made for the server (never a duplicate),
//   - that nothing was deleted but what the scenario allows (delete and prune; create too),
//   - that nothing secret leaked (step() checks it for every run).
import assert from 'node:assert/strict';
import type { FaultMatch, FaultSpec, LocalCloudOptions } from '../local-cloud/cloud.ts';
import {
  DAY,
  HOUR,
  type Image,
  assertFailure,
  assertSuccess,
  createAttempts,
  deletes,
  describeRun,
  executedCreates,
  ids,
  jsonOutput,
  managedProps,
  mutating,
  passwordInputs,
  seedSnapshots,
  snapshotsOf,
  sorted,
  stamp,
  startCloud,
  step,
  summaryText,
  tableRows,
  tokenPosts,
  unique,
  unmanagedProps,
  volumeBackedSnapshot,
  worldIds,
  PRUNE_TABLE,
  DELETE_TABLE,
  type LocalCloud,
  type RequestRecord,
  type Server,
  type Step,
} from './harness.ts';

export type Mode = 'create' | 'delete' | 'prune';

export interface Arranged {
  inputs: Record<string, string>;
  env?: Record<string, string>;
  /** Armed just before the run. */
  faults: FaultSpec[];
  /** The server whose snapshots are counted. */
  server?: Server;
  /** 'ok', or the fragments the one ::error:: must contain. */
  expect: 'ok' | (string | RegExp)[];
  /** Snapshots Nova must have made for the server (createImage executed): 1 for create unless said, 0 otherwise. */
  snapshots?: number;
  /** IDs (images, volume snapshots) the run may delete; anything else that disappears is a wrong deletion. */
  deletable?: string[];
  /** IDs that must be gone afterwards. */
  gone?: string[];
  /** Side effects while the action runs (e.g. free a busy server); returns a cleanup. */
  during?: () => () => void;
  /** Scenario-specific assertions. */
  check?: (o: Outcome) => void | Promise<void>;
}

export interface Outcome {
  cloud: LocalCloud;
  step: Step;
  arranged: Arranged;
  /** Images made for the server by this run (any status), as the cloud has them now. */
  newSnapshots: { id: string; status: string; name: string | null }[];
}

export interface FaultScenario {
  name: string;
  mode: Mode;
  /** For the secrets check: the run authenticates again (so it gets more than one token). */
  reauth?: boolean;
  /** A cloud of its own, with these options (otherwise the lane's shared one). */
  cloud?: LocalCloudOptions;
  /** A known action bug makes this scenario fail: it still runs, with the right assertions. */
  bug?: string;
  /** The test's time limit (default 60 s). */
  timeoutMs?: number;
  arrange(cloud: LocalCloud): Arranged;
}

export interface Verdict {
  duplicates: number;
  wrongDeletions: string[];
}

// ---------------------------------------------------------------------------------------------
// Fault targets

const TOKEN: FaultMatch = { service: 'identity', method: 'POST' };
const IMAGE_GET: FaultMatch = { service: 'image', method: 'GET', path: /\/v2\/images\/[0-9a-f-]{36}$/ };
const IMAGE_LIST: FaultMatch = { service: 'image', method: 'GET', path: /\/v2\/images\?/ };
const REQUEST_SEARCH: FaultMatch = { service: 'image', method: 'GET', path: /\/v2\/images\?.*snapshot_request_id=/ };
const SECOND_PAGE: FaultMatch = { service: 'image', method: 'GET', path: /\/v2\/images\?.*marker=/ };
const SERVER_LIST: FaultMatch = { service: 'compute', method: 'GET', path: /\/servers\/detail\?/ };
const IMAGE_DELETE: FaultMatch = { service: 'image', method: 'DELETE' };
const VOLUME_DELETE: FaultMatch = { service: 'volume', method: 'DELETE' };
const serverGet = (id: string): FaultMatch => ({ service: 'compute', method: 'GET', path: new RegExp(`/servers/${id}$`) });
const createImage = (id: string): FaultMatch => ({ action: 'createImage', path: new RegExp(`/servers/${id}/action$`) });
const deleteOf = (id: string): FaultMatch => ({ service: 'image', method: 'DELETE', path: new RegExp(`/v2/images/${id}$`) });

const NOVA_BUSY = (id: string) => ({
  conflictingRequest: { code: 409, message: `Cannot 'createImage' instance ${id} while it is in task_state image_snapshot` },
});

// ---------------------------------------------------------------------------------------------
// Record helpers for scenario checks

const isImageGet = (r: RequestRecord) => r.service === 'image' && r.method === 'GET' && /\/v2\/images\/[0-9a-f-]{36}$/.test(r.path);

/** Milliseconds from the first record with `fault` to the next request matching `same`. */
function gapAfterFault(records: RequestRecord[], same: (r: RequestRecord) => boolean): number {
  const i = records.findIndex((r) => r.fault !== undefined && same(r));
  assert.ok(i >= 0, 'the faulted request is in the records');
  const next = records.slice(i + 1).find(same);
  assert.ok(next, 'the request was sent again');
  return next.t - records[i]!.t;
}

function searchedByRequestId(o: Outcome): void {
  assert.ok(
    o.step.records.some((r) => r.service === 'image' && /snapshot_request_id=/.test(r.path)),
    `the action searched Glance by snapshot_request_id\n${describeRun(o.step)}`,
  );
}

/** The one new snapshot is active and the outputs name it. */
function reportsTheSnapshot(o: Outcome): void {
  assert.equal(o.newSnapshots.length, 1);
  assert.equal(o.step.run.outputs['snapshot-id'], o.newSnapshots[0]!.id);
  assert.equal(o.step.run.outputs['snapshot-status'], 'active');
  assert.equal(o.newSnapshots[0]!.status, 'active');
}

/** The failed snapshot's ID is still an output, the error names it, and the cloud has it in this state (or no longer has it). */
function namesFailedImage(o: Outcome, state: 'gone' | RegExp): void {
  const id = o.step.run.outputs['snapshot-id'];
  assert.ok(id, `snapshot-id is set when the snapshot failed\n${describeRun(o.step)}`);
  assert.ok(o.step.errors[0]!.includes(id), 'the error names the image');
  assert.deepEqual(
    ids(o.newSnapshots).filter((i) => i !== id),
    [],
    'no other image',
  );
  // The job summary says so too.
  assert.deepEqual(
    tableRows(o.step, ['Snapshot ID', 'What happened']).map((r) => r[0]),
    [id],
  );
  if (state === 'gone') assert.equal(o.cloud.image(id), undefined, 'the image is gone');
  else assert.match(o.cloud.image(id)?.status ?? 'gone', state);
}

// ---------------------------------------------------------------------------------------------
// Fixtures

function server(cloud: LocalCloud, opts: { volumeBacked?: boolean; taskState?: string | null; status?: string } = {}): Server {
  return cloud.addServer({ region: 'GRA7', name: unique(opts.volumeBacked ? 'db' : 'web'), ...opts });
}

/** A create's bystanders: older snapshots of the server and of another one, which a create without keep-* never touches. */
function bystanders(cloud: LocalCloud, s: Server): void {
  seedSnapshots(cloud, s, 2, { startHoursAgo: 48 });
  seedSnapshots(cloud, server(cloud), 1);
}

type Options = Partial<Omit<FaultScenario, 'name' | 'mode' | 'arrange'>>;
/** What a scenario says of itself: its faults, and whatever it changes of its builder's defaults. */
type Special = Partial<Arranged>;

/**
 * A create of a server of its own (among bystanders, unless said), by name, expected to succeed
 * with one snapshot; the scenario's inputs are added to those.
 */
function create(
  name: string,
  arrange: (cloud: LocalCloud, s: Server) => Special,
  { server: serverOpts, bystanders: withBystanders = true, ...options }: Options & { server?: Parameters<typeof server>[1]; bystanders?: boolean } = {},
): FaultScenario {
  return {
    name,
    mode: 'create',
    ...options,
    arrange(cloud) {
      const s = server(cloud, serverOpts);
      if (withBystanders) bystanders(cloud, s);
      const a = arrange(cloud, s);
      const expect = a.expect ?? 'ok';
      // A create that succeeds made one active snapshot, which the outputs name.
      const check = async (o: Outcome) => {
        if (expect === 'ok') reportsTheSnapshot(o);
        await a.check?.(o);
      };
      return { faults: [], ...a, expect, check, server: s, inputs: { ...passwordInputs(cloud), instance: s.name, ...a.inputs } };
    },
  };
}

/** A snapshot to delete among neighbours that must stay (same server, same-looking names, another server). */
function deletion(cloud: LocalCloud, opts: { volumeBacked?: boolean } = {}) {
  const s = server(cloud, { volumeBacked: opts.volumeBacked });
  let target: Image;
  let sibling: Image;
  let volumeId: string | undefined;
  if (opts.volumeBacked) {
    const name = (hoursAgo: number) => `${s.name}-${stamp(new Date(Date.now() - hoursAgo * HOUR))}`;
    ({ image: target, volumeSnapshotId: volumeId } = volumeBackedSnapshot(cloud, s, { name: name(1), createdAt: new Date(Date.now() - HOUR) }));
    ({ image: sibling } = volumeBackedSnapshot(cloud, s, { name: name(25), createdAt: new Date(Date.now() - 25 * HOUR) }));
  } else [target, sibling] = seedSnapshots(cloud, s, 2) as [Image, Image];
  cloud.addImage({ region: 'GRA7', name: `${target.name}-copy`, properties: managedProps(s) });
  seedSnapshots(cloud, server(cloud), 1);
  if (opts.volumeBacked) cloud.addVolumeSnapshot({ region: 'GRA7', name: 'unrelated' });
  return { s, target, sibling, volumeId, deletable: [target.id, ...(volumeId ? [volumeId] : [])] };
}

/**
 * A prune's world: five managed snapshots of the server (keep-last 2 deletes three), and what
 * must never be deleted: a protected old one, an unmanaged one, another server's, another
 * project's (public, claiming to be this server's).
 */
function pruneWorld(cloud: LocalCloud, opts: { count?: number; volumeBacked?: boolean } = {}) {
  const s = server(cloud, { volumeBacked: opts.volumeBacked });
  // A volume-backed server's snapshots each stand on a Cinder snapshot, named in block_device_mapping.
  const backed = opts.volumeBacked
    ? Array.from({ length: opts.count ?? 5 }, (_, i) => {
        const at = new Date(Date.now() - (1 + 24 * i) * HOUR);
        return volumeBackedSnapshot(cloud, s, { name: `${s.name}-${stamp(at)}`, createdAt: at });
      })
    : [];
  const volumes = backed.map((b) => b.volumeSnapshotId);
  const snaps = backed.length ? backed.map((b) => b.image) : seedSnapshots(cloud, s, opts.count ?? 5);
  // Older than every other snapshot, so keep-last counts it last (restic: protected ones take part in counting).
  const oldest = Date.now() - ((opts.count ?? 5) + 2) * DAY;
  cloud.addImage({ region: 'GRA7', name: `${s.name}-golden`, protected: true, createdAt: new Date(oldest), properties: managedProps(s) });
  cloud.addImage({ region: 'GRA7', name: `${s.name}-horizon`, createdAt: new Date(Date.now() - 10 * DAY), properties: unmanagedProps(s) });
  seedSnapshots(cloud, server(cloud), 3, { startHoursAgo: 300 });
  cloud.addImage({
    region: 'GRA7',
    name: `${s.name}-foreign`,
    owner: cloud.world.otherProjectId,
    visibility: 'public',
    createdAt: new Date(Date.now() - 30 * DAY),
    properties: managedProps(s),
  });
  const doomed = snaps.slice(2);
  const doomedVolumes = volumes.slice(2);
  return { s, snaps, doomed, doomedVolumes, inputs: { ...passwordInputs(cloud), mode: 'prune', instance: s.name, 'keep-last': '2' } };
}

type Deletion = ReturnType<typeof deletion>;
type PruneWorld = ReturnType<typeof pruneWorld>;

/**
 * A delete of the target of `deletion()`, by ID unless the scenario's inputs name it otherwise,
 * expected to succeed, to delete it (with its volume snapshot) and nothing else.
 */
function deleting(
  name: string,
  arrange: (d: Deletion, cloud: LocalCloud) => Special,
  { volumeBacked, ...options }: Options & { volumeBacked?: boolean } = {},
): FaultScenario {
  return {
    name,
    mode: 'delete',
    ...options,
    arrange(cloud) {
      const d = deletion(cloud, { volumeBacked });
      const a = arrange(d, cloud);
      const expect = a.expect ?? 'ok';
      // A delete that succeeds deleted its target and says so.
      const check = async (o: Outcome) => {
        if (expect === 'ok') assert.deepEqual(jsonOutput(o.step, 'deleted-snapshot-ids'), [d.target.id]);
        await a.check?.(o);
      };
      return {
        faults: [],
        deletable: d.deletable,
        gone: [d.target.id],
        ...a,
        expect,
        check,
        server: d.s,
        inputs: { ...passwordInputs(cloud), mode: 'delete', ...(a.inputs ?? { 'snapshot-id': d.target.id }) },
      };
    },
  };
}

/** A prune of `pruneWorld()` with keep-last 2 (the scenario's inputs added), expected to delete exactly the doomed three and say so. */
function pruning(
  name: string,
  arrange: (p: PruneWorld, cloud: LocalCloud) => Special,
  { world, ...options }: Options & { world?: Parameters<typeof pruneWorld>[1] } = {},
): FaultScenario {
  return {
    name,
    mode: 'prune',
    ...options,
    arrange(cloud) {
      const p = pruneWorld(cloud, world);
      const a = arrange(p, cloud);
      return {
        faults: [],
        expect: 'ok',
        deletable: ids(p.doomed),
        gone: ids(p.doomed),
        check: prunedExactly(p.doomed),
        ...a,
        server: p.s,
        inputs: { ...p.inputs, ...a.inputs },
      };
    },
  };
}

/** The prune deleted exactly `doomed` and says so in its outputs and summary. */
function prunedExactly(doomed: { id: string }[]) {
  return (o: Outcome) => {
    assert.deepEqual(sorted(jsonOutput(o.step, 'deleted-snapshot-ids')), sorted(ids(doomed)));
    assert.equal(o.step.run.outputs['deleted-count'], String(doomed.length));
    const rows = tableRows(o.step, PRUNE_TABLE);
    for (const image of doomed) assert.equal(rows.find((r) => r[2] === image.id)?.[5], 'deleted', `summary row of ${image.id}`);
  };
}

// ---------------------------------------------------------------------------------------------
// The table

const status = (code: number, match: FaultMatch, times = 1, headers?: Record<string, string>, body?: unknown): FaultSpec => ({
  kind: 'status',
  status: code,
  match,
  times,
  ...(headers ? { headers } : {}),
  ...(body ? { body } : {}),
});
/** Fails every time, with Retry-After: 0 so got's five retries take no time: shows the retry limit. */
const forever = (code: number, match: FaultMatch): FaultSpec => status(code, match, Number.POSITIVE_INFINITY, { 'Retry-After': '0' });

export const FAULT_SCENARIOS: FaultScenario[] = [
  // ----- create: one fault at a time
  create('create: 500 burst (2) on the image polls', () => ({ faults: [status(500, IMAGE_GET, 2)] })),
  create('create: 502 on getting the server by ID', (_cloud, s) => ({ inputs: { instance: s.id }, faults: [status(502, serverGet(s.id))] })),
  create('create: 503 on the server name lookup', () => ({ faults: [status(503, SERVER_LIST)] })),
  create('create: 503 burst (2) on the token POST', () => ({
    faults: [status(503, TOKEN, 2)],
    check: (o) => assert.equal(tokenPosts(o.step.records).length, 3),
  })),
  create('create: 503 on createImage (not executed): searched, sent again, one snapshot', (_c, s) => ({
    faults: [status(503, createImage(s.id))],
    check: (o) => {
      searchedByRequestId(o);
      assert.equal(createAttempts(o.step.records, s.id).length, 2);
      assert.match(o.step.run.stdout, /::warning::createImage failed without a clear answer \(503\)/);
    },
  })),
  create('create: 502 on createImage (not executed): searched, sent again, one snapshot', (_c, s) => ({
    faults: [status(502, createImage(s.id))],
    check: (o) => {
      searchedByRequestId(o);
      assert.equal(createAttempts(o.step.records, s.id).length, 2);
    },
  })),
  create('create: connection reset on createImage (before Nova saw it)', (_c, s) => ({
    faults: [{ kind: 'reset', match: createImage(s.id) }],
    check: (o) => {
      searchedByRequestId(o);
      assert.equal(createAttempts(o.step.records, s.id).length, 2);
    },
  })),
  create('create: connection reset on an image poll', () => ({ faults: [{ kind: 'reset', match: IMAGE_GET }] })),
  create('create: createImage executed but its response lost: adopts the one image', (_c, s) => ({
    faults: [{ kind: 'lose-response', match: createImage(s.id) }],
    check: (o) => {
      searchedByRequestId(o);
      assert.equal(createAttempts(o.step.records, s.id).length, 1, 'never sent again');
      assert.match(o.step.run.stdout, /The snapshot was made after all: /);
    },
  })),
  create('create: slow createImage answer (3 s, under the client timeout)', (_c, s) => ({
    faults: [{ kind: 'delay', ms: 3_000, match: createImage(s.id) }],
    check: (o) => {
      assert.equal(createAttempts(o.step.records, s.id).length, 1);
      assert.ok(o.step.run.durationMs >= 3_000);
    },
  })),
  create('create: slow server GET (2 s before Nova acts)', (_c, s) => ({
    inputs: { instance: s.id },
    faults: [{ kind: 'delay', ms: 2_000, beforeExecute: true, match: serverGet(s.id) }],
  })),
  create('create: 429 with Retry-After: 2 on an image poll is honoured', () => ({
    faults: [status(429, IMAGE_GET, 1, { 'Retry-After': '2' })],
    check: (o) => {
      const gap = gapAfterFault(o.step.records, isImageGet);
      assert.ok(gap >= 1_950, `waited ${gap} ms after Retry-After: 2`);
    },
  })),
  create('create: 429 without Retry-After on an image poll: backoff', () => ({
    faults: [status(429, IMAGE_GET)],
    check: (o) => {
      const gap = gapAfterFault(o.step.records, isImageGet);
      assert.ok(gap >= 900 && gap < 1_900, `first backoff about 1 s, waited ${gap} ms`);
    },
  })),
  create('create: 429 with Retry-After: 1 on createImage: sent again once, one snapshot', (_c, s) => ({
    faults: [status(429, createImage(s.id), 1, { 'Retry-After': '1' })],
    check: (o) => {
      assert.equal(createAttempts(o.step.records, s.id).length, 2);
      const gap = gapAfterFault(o.step.records, (r) => r.action === 'createImage');
      assert.ok(gap >= 950, `waited ${gap} ms after Retry-After: 1`);
    },
  })),
  create(
    'create: token expires mid-wait (401): re-authenticates and succeeds',
    () => ({
      faults: [{ kind: 'expire-token', match: IMAGE_GET, after: 1 }],
      check: (o) => {
        assert.equal(tokenPosts(o.step.records).length, 2, 'one new token');
        assert.equal(o.step.records.filter((r) => r.status === 401).length, 1);
      },
    }),
    { reauth: true },
  ),
  create(
    'create: 401 on createImage: re-authenticates, sends it again, one snapshot',
    (_c, s) => ({
      faults: [{ kind: 'expire-token', match: createImage(s.id) }],
      check: (o) => {
        assert.equal(createAttempts(o.step.records, s.id).length, 2);
        assert.equal(tokenPosts(o.step.records).length, 2);
      },
    }),
    { reauth: true },
  ),
  create(
    'create: token lifetime shorter than the wait: renewed, one snapshot',
    () => ({ check: (o) => assert.ok(tokenPosts(o.step.records).length >= 2, 'a second token') }),
    { reauth: true, cloud: { snapshotSeconds: 4, tokenTtlSeconds: 3 } },
  ),
  create(
    'create: server busy at start (task_state), free after 1.5 s',
    (cloud, s) => ({
      // Freed 1.5 s after the action first asked Nova about it: on a loaded machine the action
      // may start later than 1.5 s, and must still find the server busy.
      during: () => {
        const from = cloud.requests.length;
        let timer: NodeJS.Timeout | undefined;
        const watch = setInterval(() => {
          if (timer || !cloud.requests.slice(from).some((r) => r.service === 'compute')) return;
          timer = setTimeout(() => cloud.setServer(s.id, { taskState: null }), 1_500);
        }, 20);
        return () => {
          clearInterval(watch);
          clearTimeout(timer);
        };
      },
      check: (o) => {
        assert.match(o.step.run.stdout, /task_state image_uploading\): waiting until it can be snapshotted/);
        assert.equal(createAttempts(o.step.records, s.id).length, 1, 'createImage only once the server was free');
      },
    }),
    { server: { taskState: 'image_uploading' } },
  ),
  create(
    'create: server busy for longer than the timeout',
    (_cloud, s) => ({
      inputs: { timeout: '3s' },
      expect: [`Timed out waiting for instance ${s.name} (${s.id}) to be free`, 'REBOOT', 'task_state rebooting'],
      snapshots: 0,
      check: (o) => assert.equal(createAttempts(o.step.records, s.id).length, 0),
    }),
    { server: { status: 'REBOOT' } },
  ),
  create('create: 409 (busy task_state) on createImage: waits, sends again, one snapshot', (_c, s) => ({
    faults: [status(409, createImage(s.id), 1, undefined, NOVA_BUSY(s.id))],
    check: (o) => {
      assert.equal(createAttempts(o.step.records, s.id).length, 2);
      assert.match(o.step.run.stdout, /Nova answered 409/);
    },
  })),
  create('create: the image goes killed', (_c, s) => ({
    faults: [{ kind: 'image-killed', match: createImage(s.id) }],
    expect: ['The snapshot failed: snapshot', 'is killed', 'mode: delete'],
    check: (o) => namesFailedImage(o, /^killed$/),
  })),
  create('create: the image disappears (404) mid-wait', (_c, s) => ({
    faults: [{ kind: 'image-vanish', match: createImage(s.id) }],
    expect: ['The snapshot failed: snapshot', 'disappeared while it was being made', `openstack server show ${s.id}`],
    check: (o) => namesFailedImage(o, 'gone'),
  })),
  create('create: stuck snapshot, timeout 3s', (_c, s) => ({
    inputs: { timeout: '3s' },
    faults: [{ kind: 'stuck', match: createImage(s.id) }],
    expect: ['Timed out', 'waiting for snapshot', 'to become active', 'still queued', 'openstack image show'],
    check: (o) => {
      namesFailedImage(o, /^queued$/);
      assert.ok(o.step.run.durationMs < 10_000);
    },
  })),
  create(
    'create: 503 on every image poll: retry limit hit, clear error, snapshot-id still set',
    () => ({
      faults: [forever(503, IMAGE_GET)],
      expect: ['answered 503', '/v2/images/'],
      check: (o) => {
        // One try and got's five retries per poll, then the error.
        assert.equal(o.step.records.filter((r) => isImageGet(r) && r.status === 503).length, 6);
        // README: snapshot-id is "also set when the wait failed or timed out".
        namesFailedImage(o, /^(queued|saving|active)$/);
      },
    }),
    {},
  ),
  create(
    'create: stuck snapshot, a poll held 8 s, timeout 3s: the step ends by its timeout',
    (_c, s) => ({
      inputs: { timeout: '3s' },
      faults: [
        { kind: 'stuck', match: createImage(s.id) },
        { kind: 'delay', ms: 8_000, match: IMAGE_GET, after: 1 },
      ],
      expect: ['Timed out', 'waiting for snapshot', 'still queued'],
      check: (o) => {
        namesFailedImage(o, /^queued$/);
        // The per-request timeout is got's 60 s whatever the timeout input says: a hung Glance
        // keeps the step past its timeout (up to 6 attempts of 60 s).
        assert.ok(o.step.run.durationMs < 6_000, `the step took ${o.step.run.durationMs} ms with timeout 3s`);
      },
    }),
    {},
  ),
  create(
    'create: old Nova (2.38), createImage response lost: Location never seen, image adopted',
    (_c, s) => ({
      faults: [{ kind: 'lose-response', match: createImage(s.id) }],
      check: (o) => {
        searchedByRequestId(o);
        assert.ok(
          o.step.records.some((r) => r.status === 406),
          'microversion 2.45 was refused first',
        );
        assert.match(o.step.run.stdout, /Nova microversion 2\.1\)/);
      },
    }),
    { cloud: { snapshotSeconds: 1, maxMicroversion: '2.38' } },
  ),

  // ----- create: combined
  create(
    'create: token 503 + poll 500 + token expiry mid-wait',
    () => ({
      // The expire-token sees the first poll too (taken by the 500), so after: 1 makes it the retry's.
      faults: [status(503, TOKEN), status(500, IMAGE_GET), { kind: 'expire-token', match: IMAGE_GET, after: 1 }],
      check: (o) => assert.equal(tokenPosts(o.step.records).length, 3),
    }),
    { reauth: true },
  ),
  create('create: response lost + 503 on the search by request ID: still one snapshot', (_c, s) => ({
    faults: [{ kind: 'lose-response', match: createImage(s.id) }, status(503, REQUEST_SEARCH)],
    check: (o) => assert.equal(createAttempts(o.step.records, s.id).length, 1),
  })),
  create('create: reset on createImage, then 409 on the resend', (_c, s) => ({
    faults: [{ kind: 'reset', match: createImage(s.id) }, status(409, createImage(s.id), 1, undefined, NOVA_BUSY(s.id))],
    check: (o) => assert.equal(createAttempts(o.step.records, s.id).length, 3),
  })),
  create('create: 429 on createImage, then the image goes killed', (_c, s) => ({
    faults: [status(429, createImage(s.id), 1, { 'Retry-After': '1' }), { kind: 'image-killed', match: createImage(s.id) }],
    expect: ['is killed'],
    check: (o) => namesFailedImage(o, /^killed$/),
  })),
  create(
    'create with keep-last: response lost + DELETE 503 in its prune',
    (cloud, s) => {
      const old = seedSnapshots(cloud, s, 3);
      seedSnapshots(cloud, server(cloud), 2);
      return {
        inputs: { 'keep-last': '2' },
        faults: [{ kind: 'lose-response', match: createImage(s.id) }, status(503, IMAGE_DELETE)],
        deletable: ids(old.slice(1)),
        gone: ids(old.slice(1)),
        check: (o) => assert.deepEqual(sorted(jsonOutput(o.step, 'kept-snapshot-ids')), sorted([o.newSnapshots[0]!.id, old[0]!.id])),
      };
    },
    { bystanders: false },
  ),
  create(
    'create with keep-last: the prune cannot list (503 for good): snapshot reported, nothing deleted',
    (cloud, s) => {
      const old = seedSnapshots(cloud, s, 3);
      return {
        inputs: { 'keep-last': '1' },
        faults: [forever(503, { ...IMAGE_LIST, path: /\/v2\/images\?.*managed_by=/ })],
        expect: ['answered 503'],
        deletable: [],
        check: (o) => {
          for (const image of old) assert.ok(o.cloud.image(image.id));
          assert.equal(o.newSnapshots[0]?.status, 'active', 'the snapshot itself succeeded');
          assert.equal(o.step.run.outputs['snapshot-id'], o.newSnapshots[0]!.id, 'later steps still get the new snapshot');
          assert.equal(o.step.run.outputs['snapshot-status'], 'active');
        },
      };
    },
    { bystanders: false },
  ),

  // ----- delete
  deleting('delete: 500 burst (2) on GET image', () => ({ faults: [status(500, IMAGE_GET, 2)] })),
  deleting('delete: 503 on the DELETE', (d) => ({
    faults: [status(503, deleteOf(d.target.id))],
    check: (o) => assert.equal(deletes(o.step.records).length, 2),
  })),
  deleting('delete: connection reset on the DELETE', (d) => ({
    inputs: { 'snapshot-name': d.target.name! },
    faults: [{ kind: 'reset', match: deleteOf(d.target.id) }],
  })),
  deleting('delete: DELETE executed but its response lost', (d) => ({
    faults: [{ kind: 'lose-response', match: deleteOf(d.target.id) }],
    check: (o) => assert.equal(o.step.run.outputs['deleted-count'], '1'),
  })),
  deleting('delete: slow DELETE answer (2 s, executed at once)', (d) => ({
    faults: [{ kind: 'delay', ms: 2_000, match: deleteOf(d.target.id) }],
    check: (o) => assert.equal(deletes(o.step.records).length, 1, 'not sent twice'),
  })),
  deleting('delete: 429 with Retry-After: 1 on the DELETE is honoured', (d) => ({
    faults: [status(429, deleteOf(d.target.id), 1, { 'Retry-After': '1' })],
    check: (o) => {
      const gap = gapAfterFault(o.step.records, (r) => r.method === 'DELETE');
      assert.ok(gap >= 950, `waited ${gap} ms`);
    },
  })),
  deleting(
    'delete: 401 on the DELETE (token expired): re-authenticates',
    (d) => ({ faults: [{ kind: 'expire-token', match: deleteOf(d.target.id) }], check: (o) => assert.equal(tokenPosts(o.step.records).length, 2) }),
    { reauth: true },
  ),
  deleting('delete by name: 503 on the image list', (d) => ({
    inputs: { 'snapshot-name': d.target.name!, instance: d.s.name },
    faults: [status(503, IMAGE_LIST)],
  })),
  deleting(
    'delete: volume-backed, 503 on the Cinder DELETE',
    (d) => ({
      faults: [status(503, VOLUME_DELETE)],
      gone: d.deletable,
      check: (o) => assert.deepEqual(jsonOutput(o.step, 'volume-snapshot-ids'), [d.volumeId]),
    }),
    { volumeBacked: true },
  ),
  deleting(
    'delete: volume-backed, Cinder DELETE fails for good: image deleted, volume snapshot reported',
    (d) => ({
      faults: [forever(500, VOLUME_DELETE)],
      deletable: [d.target.id],
      check: (o) => {
        assert.match(
          o.step.run.stdout,
          new RegExp(`::warning::Could not delete volume snapshot ${d.volumeId}.*openstack volume snapshot delete ${d.volumeId}`),
        );
        const [[name, id, volumes]] = tableRows(o.step, DELETE_TABLE) as [[string, string, string]];
        assert.deepEqual([name, id], [d.target.name, d.target.id]);
        assert.match(volumes, new RegExp(`^${d.volumeId} \\(failed: DELETE .* answered 500: `));
        assert.deepEqual(jsonOutput(o.step, 'volume-snapshot-ids'), []);
      },
    }),
    { volumeBacked: true },
  ),
  deleting('delete: 503 on every DELETE: retry limit hit, clear error, image kept', (d) => ({
    faults: [forever(503, deleteOf(d.target.id))],
    expect: ['DELETE', `/v2/images/${d.target.id}`, 'answered 503'],
    deletable: [],
    gone: [],
    check: (o) => {
      assert.equal(deletes(o.step.records).length, 6, 'one try and five retries');
      assert.ok(o.cloud.image(d.target.id));
    },
  })),
  deleting(
    'delete: token 502 + list reset + DELETE 500 + 401 on the confirming GET',
    (d) => ({
      inputs: { 'snapshot-name': d.target.name! },
      faults: [status(502, TOKEN), { kind: 'reset', match: IMAGE_LIST }, status(500, deleteOf(d.target.id)), { kind: 'expire-token', match: IMAGE_GET }],
    }),
    { reauth: true },
  ),

  // ----- prune
  pruning('prune: 500 on the image list', () => ({ faults: [status(500, IMAGE_LIST)] })),
  pruning('prune: 503 on one DELETE', (p) => ({ faults: [status(503, deleteOf(p.doomed[0]!.id))] })),
  pruning('prune: connection reset on one DELETE', (p) => ({ faults: [{ kind: 'reset', match: deleteOf(p.doomed[1]!.id) }] })),
  pruning('prune: 429 (Retry-After: 1) on two DELETEs', () => ({ faults: [status(429, IMAGE_DELETE, 2, { 'Retry-After': '1' })] })),
  pruning(
    'prune: token expires during concurrent DELETEs: one re-authentication',
    (p) => ({
      faults: [{ kind: 'expire-token', match: IMAGE_DELETE }],
      check: (o) => {
        prunedExactly(p.doomed)(o);
        assert.equal(tokenPosts(o.step.records).length, 2, 'the concurrent 401s share one new token');
      },
    }),
    { reauth: true },
  ),
  pruning('prune: slow image list (2 s before Glance answers)', () => ({ faults: [{ kind: 'delay', ms: 2_000, beforeExecute: true, match: IMAGE_LIST }] })),
  pruning('prune: one image in use (409): the others deleted, the step fails naming it', (p, cloud) => {
    const busy = p.doomed[1]!;
    cloud.markInUse(busy.id);
    return {
      expect: ['1 snapshot(s) could not be deleted'],
      gone: ids(p.doomed.filter((i) => i !== busy)),
      check: (o) => {
        assert.ok(o.cloud.image(busy.id));
        assert.match(o.step.run.stdout, new RegExp(`::warning::Glance refused to delete snapshot ${busy.id}.*it is in use`));
        assert.equal(deletes(o.step.records).filter((r) => r.path.endsWith(busy.id)).length, 1, 'a 409 is not retried');
      },
    };
  }),
  pruning('prune: a DELETE executed but its response lost', (p) => ({ faults: [{ kind: 'lose-response', match: deleteOf(p.doomed[0]!.id) }] })),
  pruning('prune: one DELETE fails for good: the others deleted, the step fails naming it', (p) => {
    const stuck = p.doomed[0]!;
    return {
      faults: [forever(500, deleteOf(stuck.id))],
      expect: ['1 snapshot(s) could not be deleted'],
      gone: ids(p.doomed.slice(1)),
      check: (o) => {
        assert.ok(o.cloud.image(stuck.id), 'the one that failed is still there');
        assert.match(o.step.run.stdout, new RegExp(`::warning::deleting snapshot ${stuck.id} failed: DELETE .* answered 500`));
        assert.deepEqual(sorted(jsonOutput(o.step, 'deleted-snapshot-ids')), sorted(ids(p.doomed.slice(1))));
        assert.match(tableRows(o.step, PRUNE_TABLE).find((r) => r[2] === stuck.id)?.[5] ?? '', /^failed: /);
      },
    };
  }),
  pruning(
    'prune: two Glance pages, 503 on the second',
    (p) => {
      const doomed = p.snaps.slice(1_000);
      return {
        inputs: { 'keep-last': '1000' },
        faults: [status(503, SECOND_PAGE)],
        deletable: ids(doomed),
        gone: ids(doomed),
        check: (o) => assert.deepEqual(sorted(jsonOutput(o.step, 'deleted-snapshot-ids')), sorted(ids(doomed))),
      };
    },
    { world: { count: 1_003 } },
  ),
  pruning(
    'prune: volume-backed snapshots, 503 on a Cinder DELETE',
    (p) => ({
      faults: [status(503, VOLUME_DELETE)],
      deletable: [...ids(p.doomed), ...p.doomedVolumes],
      gone: [...ids(p.doomed), ...p.doomedVolumes],
      check: (o) => {
        prunedExactly(p.doomed)(o);
        assert.deepEqual(sorted(jsonOutput(o.step, 'volume-snapshot-ids')), sorted(p.doomedVolumes));
      },
    }),
    { world: { volumeBacked: true } },
  ),
  pruning('prune dry-run: token 503 + list 500: still no mutating request', () => ({
    inputs: { 'dry-run': 'true' },
    faults: [status(503, TOKEN), status(500, IMAGE_LIST)],
    deletable: [],
    gone: [],
    check: (o) => {
      assert.equal(mutating(o.step.records).length, 0);
      assert.match(summaryText(o.step.run.summary), /would delete: 3\./);
    },
  })),
  pruning(
    'prune: token 503 + server lookup 502 + list reset + 401 and 429 on DELETEs',
    () => ({
      faults: [
        status(503, TOKEN),
        status(502, SERVER_LIST),
        { kind: 'reset', match: IMAGE_LIST },
        { kind: 'expire-token', match: IMAGE_DELETE },
        status(429, IMAGE_DELETE, 1, { 'Retry-After': '1' }),
      ],
    }),
    { reauth: true },
  ),
];

// Opt-in: a response held past got's 60 s per-request timeout (not configurable from the inputs).
if (process.env.OSA_E2E_SLOW === '1') {
  FAULT_SCENARIOS.push(
    create(
      'create: image poll answered after 65 s: client timeout, retried',
      () => ({
        faults: [{ kind: 'delay', ms: 65_000, match: IMAGE_GET }],
        check: (o) => {
          const polls = o.step.records.filter(isImageGet);
          assert.ok(
            polls.some((r) => r.fault === 'delay'),
            'the held poll',
          );
          assert.ok(o.step.run.durationMs >= 60_000, 'got gave up on it after its 60 s request timeout');
        },
      }),
      { timeoutMs: 150_000 },
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Running one scenario

/** Run one scenario on `shared` (or on a cloud of its own) and check everything; the verdict feeds the matrix line. */
export async function runScenario(shared: LocalCloud, scenario: FaultScenario, verdict: Verdict): Promise<Outcome> {
  const own = scenario.cloud ? await startCloud(scenario.cloud) : undefined;
  const cloud = own ?? shared;
  try {
    cloud.clearFaults();
    const arranged = scenario.arrange(cloud);
    const before = worldIds(cloud);
    const snapshotsBefore = new Set(arranged.server ? ids(snapshotsOf(cloud, arranged.server)) : []);
    for (const fault of arranged.faults) cloud.fault(fault);
    const armed = [...cloud.faults];
    const stop = arranged.during?.();
    let s: Step;
    try {
      s = await step(cloud, arranged.inputs, arranged.env);
    } finally {
      stop?.();
    }
    cloud.clearFaults();

    // Let the cloud's own delayed transitions (Cinder deletes, 200 ms) finish before comparing.
    await new Promise((r) => setTimeout(r, 250));
    const after = worldIds(cloud);
    const allowed = new Set(arranged.deletable ?? []);
    verdict.wrongDeletions = [...before].filter((id) => !after.has(id) && !allowed.has(id));
    const expectedSnapshots = arranged.snapshots ?? (scenario.mode === 'create' ? 1 : 0);
    const made = arranged.server ? executedCreates(s.records, arranged.server.id).length : 0;
    verdict.duplicates = Math.max(0, made - Math.max(1, expectedSnapshots));
    const newSnapshots = arranged.server
      ? snapshotsOf(cloud, arranged.server)
          .filter((i) => !snapshotsBefore.has(i.id))
          .map((i) => ({ id: i.id, status: i.status, name: i.name }))
      : [];

    // The outcome.
    if (arranged.expect === 'ok') assertSuccess(s);
    else assertFailure(s, arranged.expect);
    // Every fault fired (as often as armed; "forever" ones at least once).
    for (const f of armed) {
      const times = f.spec.times ?? 1;
      if (Number.isFinite(times))
        assert.equal(f.applied, times, `fault ${f.spec.kind} ${JSON.stringify(f.spec.match)} applied ${f.applied} of ${times} times\n${describeRun(s)}`);
      else assert.ok(f.applied >= 1, `fault ${f.spec.kind} never applied`);
    }
    // Snapshots: exactly as many as expected, never a duplicate.
    assert.equal(verdict.duplicates, 0, `duplicate snapshots: Nova executed ${made} createImage\n${describeRun(s)}`);
    assert.equal(made, expectedSnapshots, `Nova executed ${made} createImage, expected ${expectedSnapshots}\n${describeRun(s)}`);
    if (scenario.mode === 'create') {
      // Every image the action made is accounted for (a vanished one is gone from the cloud).
      const vanished = arranged.faults.some((f) => f.kind === 'image-vanish');
      assert.equal(newSnapshots.length, vanished ? 0 : expectedSnapshots, 'images of the server made by this run');
    }
    // Deletions: nothing outside what the scenario allows, and everything it requires.
    assert.deepEqual(verdict.wrongDeletions, [], 'deleted outside the scope');
    for (const id of arranged.gone ?? []) assert.ok(!after.has(id), `${id} should be gone`);

    const outcome: Outcome = { cloud, step: s, arranged, newSnapshots };
    await arranged.check?.(outcome);
    return outcome;
  } finally {
    cloud.clearFaults();
    await own?.stop();
  }
}
