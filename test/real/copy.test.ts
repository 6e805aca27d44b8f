// Copies in another region against a REAL OpenStack, through dist/index.js: a snapshot of the
// first region's server copied to the second (the loopback cloud: GRA7 → SBG5, two Glances with
// their own stores), checked through the second region's Glance (status, hash, properties); a
// large image made by the test copied with the action's peak memory recorded; the source deleted
// mid-copy; the second Glance failing mid-upload (a fault proxy, reached through a Keystone proxy
// that points the catalog's SBG5 image endpoint at it); a region not in the catalog; retention of
// the copies per region.
//
// What it creates: one snapshot of the instance (Nova createImage) and a few images made in
// Glance directly (a 1-byte one, and OSA_REAL_COPY_MIB MiB ones, default 256), each tagged with
// osa_e2e_run=<tag>, and their copies in the second region (which carry the tag too); all deleted
// by the after hook. The images made here record a made-up instance, so the retention of their
// copies can touch nothing else.
import assert from 'node:assert/strict';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { MANAGED_BY } from '../../src/lib/constants.ts';
import { expect, RUN_PROPERTY, type Image, type OpenStack, type Server } from '../support/openstack.ts';
import { authInputs, cleanupRegion, connect, loadConfig, runLog, succeeded, sweepStale } from '../support/real-cloud.ts';
import { errorsOf, runAction, type ActionRun } from '../support/run-action.ts';

const cfg = loadConfig();
const R1 = cfg.region;
const R2 = cfg.region2;
const TAG = cfg.tag;
const MIB = Number(process.env.OSA_REAL_COPY_MIB ?? 256);
const SLOW = { timeout: 600_000 };

let api: OpenStack;
let main: Server;

interface CopyRow {
  region: string;
  image_id: string | null;
  status: string;
  bytes: number;
  seconds: number;
  method: string;
  source_region: string;
  source_image_id: string | null;
  deleted_copy_ids: string[];
  error: string | null;
}
const copiesOf = (run: ActionRun): CopyRow[] => JSON.parse(run.outputs.copies ?? '[]') as CopyRow[];

/** Every image in the second region copied from `sourceId`, whatever its status. */
const copiesInR2 = (sourceId: string) => api.images({ owner: api.projectId, copied_from_image: sourceId }, R2);

/** An image made in Glance directly with `bytes` of data, shaped like this action's snapshot of a made-up instance. */
async function bigImage(name: string, data: Uint8Array<ArrayBuffer>, instanceId: string): Promise<Image> {
  const json = {
    name: `${TAG}-${name}`,
    disk_format: 'qcow2',
    container_format: 'bare',
    visibility: 'private',
    min_disk: 1,
    [RUN_PROPERTY]: TAG,
    managed_by: MANAGED_BY,
    source_instance_id: instanceId,
    source_instance_name: 'made-up',
    os_distro: 'debian',
    hw_disk_bus: 'scsi',
  };
  const { id } = expect(await api.glance('POST', '/v2/images', { json })).body;
  expect(await api.glance('PUT', `/v2/images/${id}/file`, { body: data }), 204);
  return (await api.image(id)) ?? assert.fail(`image ${id} is gone`);
}

/** The action's peak resident memory (VmHWM), read from /proc while it runs. */
function watchMemory(): { onSpawn: (pid: number) => void; peakMiB: () => number } {
  let peak = 0;
  return {
    onSpawn(pid) {
      const timer = setInterval(() => {
        try {
          const kb = Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
          peak = Math.max(peak, kb);
        } catch {
          clearInterval(timer);
        }
      }, 100);
      timer.unref();
    },
    peakMiB: () => Math.round(peak / 1024),
  };
}

/** The copy the run reported, checked through the second region's Glance: active, the source's hash and formats, its properties, where it came from. */
async function assertCopy(run: ActionRun, source: Image): Promise<Image> {
  const [row, ...more] = copiesOf(run);
  assert.ok(row, runLog(run));
  assert.deepEqual(more, []);
  assert.equal(row.status, 'active');
  assert.equal(row.region, R2);
  assert.equal(row.method, 'stream');
  assert.equal(row.source_image_id, source.id);
  assert.equal(row.bytes, source.size);
  const copy = await api.image(row.image_id ?? '', R2);
  assert.ok(copy, `copy ${row.image_id} is not in ${R2}'s Glance`);
  assert.equal(copy.status, 'active');
  assert.equal(copy.os_hash_algo, source.os_hash_algo);
  assert.equal(copy.os_hash_value, source.os_hash_value, 'the data has the same sha512');
  assert.equal(copy.checksum, source.checksum);
  assert.equal(copy.size, source.size);
  for (const key of [
    'name',
    'disk_format',
    'container_format',
    'min_disk',
    'min_ram',
    'managed_by',
    'source_instance_id',
    'source_instance_name',
    RUN_PROPERTY,
  ])
    assert.deepEqual(copy[key], source[key], key);
  assert.equal(copy.copied_from_region, R1);
  assert.equal(copy.copied_from_image, source.id);
  assert.equal(copy.visibility, 'private');
  assert.match(run.summary, /Copies in other regions/);
  return copy;
}

before(async () => {
  assert.ok(R2, 'the copy tier needs a second region (OSA_E2E_REGION2; the loopback cloud has SBG5)');
  api = await connect(cfg);
  for (const region of [R1, R2]) await sweepStale(api, region);
  main = await api.serverNamed(cfg.instance);
});

after(async () => {
  if (!api) return;
  for (const region of [R1, R2!]) {
    const removed = await cleanupRegion(api, region);
    console.log(`# cleanup ${region}: ${removed.length ? removed.join(', ') : 'nothing left'}`);
    assert.deepEqual(
      (await api.images({ [RUN_PROPERTY]: TAG, owner: api.projectId }, region)).map((i) => i.id),
      [],
      `images of this run left in ${region}`,
    );
  }
});

describe('copy to another region', () => {
  test(`create with copy-to-region: a snapshot of ${cfg.instance} in ${R1}, copied to ${R2} once active`, SLOW, async () => {
    const run = await runAction({
      mode: 'create',
      instance: main.name,
      region: R1,
      'snapshot-name': `${TAG}-{instance}-{timestamp}`,
      'snapshot-properties': `${RUN_PROPERTY}=${TAG}`,
      'copy-to-region': R2!,
      ...authInputs(cfg),
    });
    succeeded(run);
    const source = (await api.image(run.outputs['snapshot-id']!)) ?? assert.fail('no snapshot');
    assert.equal(source.status, 'active');
    const copy = await assertCopy(run, source);
    assert.equal(copy.image_type, 'snapshot');
    assert.equal(copy.instance_uuid, main.id);
    assert.match(run.stdout, new RegExp(`Region ${R2}'s Glance offers the import methods: .*; the data is streamed through the runner`));
    console.log(`# ${R2}'s Glance offers: ${/offers the import methods: ([^;]*);/.exec(run.stdout)?.[1]}`);
  });

  test(`a ${MIB} MiB image copied by mode copy: the action's memory stays flat`, SLOW, async () => {
    const data = new Uint8Array(randomBytes(MIB * 1024 ** 2));
    const source = await bigImage(`big-${MIB}`, data, randomUUID());
    assert.equal(source.os_hash_value, createHash('sha512').update(data).digest('hex'));
    const memory = watchMemory();
    const run = await runAction(
      { mode: 'copy', region: R1, 'snapshot-id': source.id, 'copy-to-region': R2!, ...authInputs(cfg) },
      {},
      { onSpawn: memory.onSpawn },
    );
    succeeded(run);
    await assertCopy(run, source);
    const [row] = copiesOf(run);
    const rate = row!.bytes / 1e6 / row!.seconds;
    console.log(`# copy of ${MIB} MiB ${R1} → ${R2}: ${row!.seconds} s, ${rate.toFixed(1)} MB/s, peak RSS ${memory.peakMiB()} MiB`);
    // Measured on the loopback cloud: 89 MiB for 8 MiB, 167 MiB for 256 MiB, 171 MiB for 1 GiB (OSA_REAL_COPY_MIB=1024): bounded, whatever the size.
    assert.ok(memory.peakMiB() < 200, `peak RSS ${memory.peakMiB()} MiB: the image must not be held in memory`);
    // A line every 10 s of the copy (a fast one has none).
    const progress = run.stdout.match(/Copy to \w+: [\d.]+ MiB of [\d.]+ MiB \(\d+ %\), [\d.]+ MB\/s/g) ?? [];
    assert.ok(
      progress.length >= Math.floor(row!.seconds / 10) - 1 && progress.length <= Math.ceil(row!.seconds / 10),
      `progress lines: ${progress.length} in ${row!.seconds} s`,
    );
  });

  test(
    'the source deleted mid-copy: either the copy completes with the data as read (Glance’s file store keeps an open file) or it fails and leaves nothing',
    SLOW,
    async () => {
      const data = new Uint8Array(randomBytes(MIB * 1024 ** 2));
      const source = await bigImage('deleted-mid-copy', data, randomUUID());
      const running = runAction({ mode: 'copy', region: R1, 'snapshot-id': source.id, 'copy-to-region': R2!, ...authInputs(cfg) });
      let deletedWhile = '';
      for (let i = 0; i < 600 && !deletedWhile; i++) {
        const [copy] = await copiesInR2(source.id);
        if (copy && (copy.status === 'queued' || copy.status === 'saving')) {
          expect(await api.glance('DELETE', `/v2/images/${source.id}`), 204);
          deletedWhile = copy.status;
        } else await sleep(50);
      }
      const run = await running;
      assert.ok(deletedWhile, `the source was deleted while its copy was under way:\n${runLog(run)}`);
      const left = await copiesInR2(source.id);
      assert.deepEqual(
        left.filter((i) => i.status !== 'active').map((i) => `${i.id} ${i.status}`),
        [],
        'no queued or saving copy left',
      );
      if (run.code === 0) {
        const [copy] = left;
        assert.equal(copy?.os_hash_value, source.os_hash_value, 'the copy holds the source’s data');
        console.log(`# source deleted while its copy was ${deletedWhile}: the copy completed (the data was read in full)`);
      } else {
        assert.match(errorsOf(run).join('\n'), /was deleted in region .* while it was being copied|failed/);
        assert.deepEqual(left, []);
        console.log(`# source deleted while its copy was ${deletedWhile}: the copy failed and left nothing: ${errorsOf(run)[0]}`);
      }
    },
  );

  test(`${R2}'s Glance failing mid-upload (a fault proxy answers 503 after 1 MiB): the partial copy is deleted, the step fails`, SLOW, async () => {
    const data = new Uint8Array(randomBytes(8 * 1024 ** 2));
    const source = await bigImage('fault-proxy', data, randomUUID());
    const glance2 = new URL(api.endpoint(['image'], R2));
    const fault = await faultProxy(glance2, 1024 ** 2);
    const keystone = await catalogProxy(new URL(cfg.authUrl), R2!, glance2, fault.url);
    try {
      const run = await runAction({
        mode: 'copy',
        region: R1,
        'snapshot-id': source.id,
        'copy-to-region': R2!,
        ...authInputs(cfg),
        'auth-url': keystone.url,
      });
      assert.equal(run.code, 1, runLog(run));
      assert.ok(fault.failed(), 'the fault proxy cut an upload');
      const [error] = errorsOf(run);
      assert.match(
        error ?? '',
        new RegExp(
          `The copy of snapshot ${source.id} to region ${R2} failed: region ${R2}'s Glance failed while receiving the data \\(503\\).*; the partial copy [0-9a-f-]{36} in region ${R2} was deleted`,
        ),
      );
      assert.deepEqual(await copiesInR2(source.id), [], `nothing left in ${R2}`);
      assert.equal(copiesOf(run)[0]?.status, 'failed');
    } finally {
      await keystone.close();
      await fault.close();
    }
  });

  test(`the job cancelled mid-copy (as the runner cancels): the partial copy in ${R2} is deleted, the source stays`, SLOW, async () => {
    const source = await bigImage('cancelled-mid-copy', new Uint8Array(randomBytes(MIB * 1024 ** 2)), randomUUID());
    const run = await runAction(
      { mode: 'copy', region: R1, 'snapshot-id': source.id, 'copy-to-region': R2!, ...authInputs(cfg) },
      {},
      { cancelOn: { pattern: /Copying snapshot .* to region/, signal: 'runner' } },
    );
    assert.notEqual(run.code, 0, runLog(run));
    assert.deepEqual(
      (await copiesInR2(source.id)).map((i) => `${i.id} ${i.status}`),
      [],
      `nothing of the copy left in ${R2}:\n${runLog(run)}`,
    );
    assert.equal((await api.image(source.id))?.status, 'active', `the source in ${R1} stays`);
  });

  test('a region not in the catalog: an input error before anything is changed', SLOW, async () => {
    const source = await bigImage('not-in-catalog', new Uint8Array([1, 2, 3]), randomUUID());
    const run = await runAction({ mode: 'copy', region: R1, 'snapshot-id': source.id, 'copy-to-region': `${R2}\nBHS9`, ...authInputs(cfg) });
    assert.equal(run.code, 1);
    assert.match(
      errorsOf(run)[0] ?? '',
      /copy-to-region: BHS9 is not in the catalog for the image service: this project's regions are .*; nothing was changed/,
    );
    assert.deepEqual(await copiesInR2(source.id), []);
  });

  test(`retention per region: keep-last 1 prunes ${R2}'s copies of the instance, nothing else, never in ${R1}`, SLOW, async () => {
    const instance = randomUUID();
    const older = await bigImage('keep-older', new Uint8Array([1]), instance);
    const first = await runAction({ mode: 'copy', region: R1, 'snapshot-id': older.id, 'copy-to-region': R2!, ...authInputs(cfg) });
    succeeded(first);
    const olderCopy = copiesOf(first)[0]!.image_id!;
    // Another instance's copy, and an image of the same instance made in R2 itself (not a copy): not in scope.
    const otherRun = await runAction({
      mode: 'copy',
      region: R1,
      'snapshot-id': (await bigImage('other-instance', new Uint8Array([2]), randomUUID())).id,
      'copy-to-region': R2!,
      ...authInputs(cfg),
    });
    succeeded(otherRun);
    const native = await api.seedImage(`${TAG}-native`, { managed_by: MANAGED_BY, source_instance_id: instance }, { region: R2 });
    await sleep(1100);
    const newer = await bigImage('keep-newer', new Uint8Array([3]), instance);
    const run = await runAction({ mode: 'copy', region: R1, 'snapshot-id': newer.id, 'copy-to-region': R2!, 'keep-last': '1', ...authInputs(cfg) });
    succeeded(run);
    const [row] = copiesOf(run);
    assert.deepEqual(row?.deleted_copy_ids, [olderCopy]);
    assert.equal(await api.image(olderCopy, R2), undefined, 'the older copy is gone');
    assert.ok(await api.image(row!.image_id!, R2), 'the new copy stays');
    assert.ok(await api.image(copiesOf(otherRun)[0]!.image_id!, R2), 'another instance’s copy stays');
    assert.ok(await api.image(native.id, R2), 'an image made in that region stays');
    assert.ok(await api.image(older.id), `the source in ${R1} stays`);
  });
});

/** A proxy to a Glance that answers 503 to a PUT …/file once `after` bytes of it went through, and drops the upstream upload. */
async function faultProxy(upstream: URL, after: number): Promise<{ url: string; failed: () => boolean; close: () => Promise<void> }> {
  let cut = false;
  const server = createServer((req, res) => {
    const target = new URL(req.url ?? '/', upstream);
    const up = request(target, { method: req.method, headers: { ...req.headers, host: upstream.host } }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => res.destroy());
    if (req.method === 'PUT' && /\/file$/.test(target.pathname)) {
      let seen = 0;
      req.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > after && !cut) {
          cut = true;
          up.destroy();
          req.unpipe(up);
          res.writeHead(503, { 'content-type': 'text/html' });
          res.end('<html><body><h1>503 Service Unavailable</h1>No server is available to handle this request.</body></html>');
        }
      });
    }
    req.pipe(up);
  });
  return listen(server, (port) => ({ url: `http://127.0.0.1:${port}`, failed: () => cut }));
}

/** A proxy to Keystone whose tokens' catalogs send `region`'s image service to `to` instead of `from`. */
async function catalogProxy(keystone: URL, region: string, from: URL, to: string): Promise<{ url: string; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    const target = new URL(req.url ?? '/', keystone);
    const up = request(target, { method: req.method, headers: { ...req.headers, host: keystone.host } }, (answer: IncomingMessage) => {
      const chunks: Buffer[] = [];
      answer.on('data', (c: Buffer) => chunks.push(c));
      answer.on('end', () => {
        let body = Buffer.concat(chunks);
        if (/\/auth\/tokens$/.test(target.pathname) && /json/.test(String(answer.headers['content-type']))) {
          const token = JSON.parse(body.toString('utf8')) as { token?: { catalog?: { type: string; endpoints: { region_id?: string; url: string }[] }[] } };
          for (const entry of token.token?.catalog ?? [])
            if (entry.type === 'image') for (const e of entry.endpoints) if (e.region_id === region) e.url = e.url.replace(from.origin, to);
          body = Buffer.from(JSON.stringify(token));
        }
        const headers = { ...answer.headers, 'content-length': String(body.length) };
        res.writeHead(answer.statusCode ?? 502, headers);
        res.end(body);
      });
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  const path = keystone.pathname.replace(/\/+$/, '');
  return listen(server, (port) => ({ url: `http://127.0.0.1:${port}${path}` }));
}

function listen<T>(server: HttpServer, made: (port: number) => T): Promise<T & { close: () => Promise<void> }> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      const close = () =>
        new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        });
      resolve({ ...made(port), close });
    });
  });
}
