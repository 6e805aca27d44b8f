// What the action will never delete, and text from the cloud that must not forge the log: each
// case tries to make a deleting path (delete, prune, the prune after create, the Cinder snapshots
// behind an image) go further than asked, with the built action against the local cloud, and
// checks what the cloud still holds, the outputs and the summary. The refusals a single mode
// makes on its own are in test/unit (delete.test.ts, project.test.ts).
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  DAY,
  assertFailure,
  assertSuccess,
  jsonOutput,
  managedProps,
  mutating,
  passwordInputs,
  seedSnapshots,
  stamp,
  startCloud,
  step,
  summaryText,
  tableRows,
  PRUNE_TABLE,
  unique,
  type LocalCloud,
} from './harness.ts';

describe('what the action will never delete', { concurrency: 1 }, () => {
  let cloud: LocalCloud;
  let creds: Record<string, string>;
  before(async () => {
    cloud = await startCloud();
    creds = passwordInputs(cloud);
  });
  after(() => cloud.stop());

  const web = () => cloud.addServer({ region: 'GRA7', name: unique('web') });

  test('dry-run in mode delete sends no DELETE, and planned-snapshot-ids names what would go', async () => {
    const [image] = seedSnapshots(cloud, web(), 1);
    const s = await step(cloud, { ...creds, mode: 'delete', 'snapshot-id': image!.id, 'dry-run': 'true' });
    assertSuccess(s);
    assert.deepEqual(mutating(s.records), []);
    assert.ok(cloud.image(image!.id));
    assert.deepEqual(jsonOutput(s, 'planned-snapshot-ids'), [image!.id]);
    assert.deepEqual(jsonOutput(s, 'deleted-snapshot-ids'), []);
    assert.match(summaryText(s.run.summary), /dry run: nothing deleted/);
  });

  test('dry-run in create with keep-*: no snapshot, no DELETE; planned-snapshot-ids is the plan', async () => {
    const server = web();
    const old = seedSnapshots(cloud, server, 3);
    const s = await step(cloud, { ...creds, instance: server.name, 'keep-last': '1', 'dry-run': 'true' });
    assertSuccess(s);
    assert.deepEqual(mutating(s.records), [], 'no createImage, no DELETE');
    assert.deepEqual(jsonOutput(s, 'planned-snapshot-ids').sort(), [old[1]!.id, old[2]!.id].sort());
    assert.match(s.run.outputs['snapshot-name']!, new RegExp(`^${server.name}-\\d{8}-\\d{6}$`));
    assert.equal(s.run.outputs['snapshot-id'], undefined);
    for (const image of old) assert.ok(cloud.image(image.id));
  });

  test('an image a server was booted from: prune keeps it and says why (delete refuses it unless delete-in-use: unit/delete)', async () => {
    const server = web();
    const snaps = seedSnapshots(cloud, server, 3);
    const clone = cloud.addServer({ region: 'GRA7', name: unique('clone'), imageRef: snaps[2]!.id });
    const s = await step(cloud, { ...creds, mode: 'prune', instance: server.name, 'keep-last': '1' });
    assertSuccess(s);
    assert.deepEqual(jsonOutput(s, 'deleted-snapshot-ids'), [snaps[1]!.id]);
    assert.ok(cloud.image(snaps[2]!.id), 'the image in use stays');
    assert.ok(jsonOutput(s, 'kept-snapshot-ids').includes(snaps[2]!.id));
    const row = tableRows(s, PRUNE_TABLE).find((r) => r[2] === snaps[2]!.id)!;
    assert.equal(row[5], `kept: in use: instance ${clone.name} (${clone.id}) was booted from it`);
  });

  test("the prune after a create keeps what is in use, protected, or another server's, and deletes the rest", async () => {
    const server = web();
    const [older, booted, guarded] = seedSnapshots(cloud, server, 3);
    cloud.addServer({ region: 'GRA7', name: unique('clone'), imageRef: booted!.id });
    const golden = cloud.addImage({
      region: 'GRA7',
      name: `${server.name}-${stamp(new Date(Date.now() - 9 * DAY))}`,
      protected: true,
      createdAt: new Date(Date.now() - 9 * DAY),
      properties: managedProps(server),
    });
    const [theirs] = seedSnapshots(cloud, web(), 1, { name: () => `${server.name}-${stamp(new Date(Date.now() - 8 * DAY))}`, startHoursAgo: 8 * 24 });
    const s = await step(cloud, { ...creds, instance: server.name, 'keep-last': '1', 'snapshot-name': '{instance}-{timestamp}' });
    assertSuccess(s);
    assert.deepEqual(jsonOutput(s, 'deleted-snapshot-ids').sort(), [older!.id, guarded!.id].sort());
    for (const image of [booted!, golden, theirs!]) assert.ok(cloud.image(image.id), `${image.name} stays`);
  });
});

describe('text from the cloud is data', { concurrency: 1 }, () => {
  let cloud: LocalCloud;
  before(async () => {
    cloud = await startCloud();
  });
  after(() => cloud.stop());

  // Glance accepts any character in a name; the runner reads a `::command::` at the start of a line
  // (also after a lone \r) and the legacy `##[command]` anywhere in one.
  const FORGERIES = ['x\n::error::forged', 'x\r::stop-commands::zzz', 'x ##[error]legacy', 'x\u2028::warning::separator'];

  test('image names that try to forge workflow commands are shown, not run (prune, dry-run prune, delete)', async () => {
    const server = cloud.addServer({ region: 'GRA7', name: unique('web') });
    const images = FORGERIES.map((name, i) =>
      cloud.addImage({ region: 'GRA7', name: `${server.name}-${name}`, createdAt: new Date(Date.now() - (i + 2) * DAY), properties: managedProps(server) }),
    );
    seedSnapshots(cloud, server, 1);
    const runs = [
      await step(cloud, { ...passwordInputs(cloud), mode: 'prune', instance: server.name, 'keep-last': '1', 'dry-run': 'true' }),
      await step(cloud, { ...passwordInputs(cloud), mode: 'delete', 'snapshot-id': images[0]!.id }),
      await step(cloud, { ...passwordInputs(cloud), mode: 'prune', instance: server.name, 'keep-last': '1' }),
    ];
    for (const s of runs) {
      assertSuccess(s);
      const lines = s.run.stdout.split(/\r\n|\r|\n|\u2028/);
      assert.deepEqual(
        lines.filter((l) => /^\s*::(error|warning|stop-commands)/.test(l) && /forged|zzz|separator/.test(l)),
        [],
        'no forged command line',
      );
      assert.deepEqual(
        lines.filter((l) => l.includes('##[')),
        [],
        'no legacy command',
      );
      assert.ok(s.run.stdout.includes('x\\n::error::forged') || s.run.stdout.includes('x\\r::stop-commands::zzz'), 'the name is shown, escaped');
      assert.doesNotMatch(s.run.summary, /\n::|<script|\r/);
      for (const value of Object.values(s.run.outputs)) assert.doesNotMatch(value, /[\r\n\u2028]/);
    }
    for (const image of images) assert.equal(cloud.image(image.id), undefined);
  });
});

describe('credentials go only to the endpoint they were meant for', { concurrency: 1 }, () => {
  let cloud: LocalCloud;
  /** Another host (another origin: another port on loopback) that records whatever reaches it. */
  const reached: string[] = [];
  const elsewhere = createServer((req, res) => {
    reached.push(`${req.method} ${req.url} ${JSON.stringify(req.headers)}`);
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
  let origin = '';
  before(async () => {
    cloud = await startCloud();
    await new Promise<void>((done) => elsewhere.listen(0, '127.0.0.1', done));
    origin = `http://127.0.0.1:${(elsewhere.address() as AddressInfo).port}`;
  });
  after(() => {
    elsewhere.close();
    return cloud.stop();
  });

  for (const [what, status, match] of [
    ['a 302 from Glance (the token would follow)', 302, { service: 'image', method: 'GET' }],
    ['a 307 from Keystone (the password body would be sent again)', 307, { service: 'identity', method: 'POST' }],
  ] as const) {
    test(`${what} to another host is refused, and that host receives nothing`, async () => {
      reached.length = 0;
      const [image] = seedSnapshots(cloud, cloud.addServer({ region: 'GRA7', name: unique('web') }), 1);
      cloud.fault({ kind: 'status', status, headers: { Location: `${origin}/stolen` }, match });
      try {
        const s = await step(cloud, { ...passwordInputs(cloud), mode: 'delete', 'snapshot-id': image!.id });
        assertFailure(s, [`redirect from http://127.0.0.1`, `points to ${origin}`, 'refused, so that no token or password goes to another host']);
        assert.deepEqual(reached, [], 'nothing reached the other host');
        assert.deepEqual(mutating(s.records), []);
        assert.ok(cloud.image(image!.id));
      } finally {
        cloud.clearFaults();
      }
    });
  }
});
