// More snapshots in scope than one page of the action's own listing (it asks Glance for 1000 per
// page, Glance's api_limit_max): about 1010 tiny images made straight in Glance, carrying the
// action's properties. Opt-in (OSA_REAL_PAGES=1): it adds about a minute on the loopback cloud,
// and on a public cloud it makes a thousand images (deleted again by the after hook).
//
// The instance is a UUID no server has: prune then takes "the snapshots that name it", as it does
// for a deleted server.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { MANAGED_BY } from '../../src/lib/constants.ts';
import { expect, RUN_PROPERTY, type Image, type OpenStack } from '../support/openstack.ts';
import { authInputs, cleanupRegion, connect, loadConfig, succeeded } from '../support/real-cloud.ts';
import { runAction } from '../support/run-action.ts';

const ENABLED = process.env.OSA_REAL_PAGES === '1';
const cfg = loadConfig();
const R1 = cfg.region;
const COUNT = Number(process.env.OSA_REAL_PAGES_COUNT ?? 1010);
const PAGE = 1000;
const instanceId = randomUUID();

let api: OpenStack;
let sorted: Image[] = [];

before(
  async () => {
    if (!ENABLED) return;
    api = await connect(cfg);
    const started = Date.now();
    const images: Image[] = [];
    const names = Array.from({ length: COUNT }, (_, i) => `${cfg.tag}-page-${String(i).padStart(4, '0')}`);
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const name = names[next++]!;
        images.push(
          await api.seedImage(name, {
            managed_by: MANAGED_BY,
            source_instance_id: instanceId,
            source_instance_name: 'gone',
            osa_e2e_group: 'pages',
          }),
        );
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    sorted = images.sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at) || (a.id < b.id ? -1 : 1));
    console.log(`# seeded ${COUNT} images in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  },
  { timeout: 600_000 },
);

after(
  async () => {
    if (!api) return;
    const started = Date.now();
    // cleanupRegion deletes one at a time; a thousand go faster in parallel.
    const left = await api.images({ [RUN_PROPERTY]: cfg.tag, owner: api.projectId, limit: '1000' });
    let next = 0;
    const worker = async () => {
      while (next < left.length) {
        const image = left[next++]!;
        if (image.protected) await api.setProtected(image.id, false);
        await api.deleteImage(image.id);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await cleanupRegion(api, R1);
    console.log(`# deleted ${left.length} images in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  },
  { timeout: 600_000 },
);

test(
  `prune sees all ${COUNT} snapshots across Glance pages of ${PAGE}, and deletes only on the second page`,
  { skip: !ENABLED && 'opt-in: OSA_REAL_PAGES=1 (makes ~1010 images)', timeout: 600_000 },
  async () => {
    assert.ok(COUNT > PAGE + 3, 'more than one page');
    const query = { [RUN_PROPERTY]: cfg.tag, osa_e2e_group: 'pages', status: 'active', sort: 'created_at:desc' };
    const first = expect(await api.glance('GET', `/v2/images?${new URLSearchParams({ ...query, limit: String(PAGE + 500) })}`)).body;
    assert.equal(first.images.length, PAGE, `Glance caps a page at ${PAGE} (api_limit_max), whatever limit is asked`);
    assert.ok(first.next, 'and links the next page');

    // The oldest is protected: only the second page shows it. keep-last COUNT-5 leaves 5 to delete,
    // all older than the first page: the protected one stays, the other four go.
    const oldest = sorted[COUNT - 1]!;
    await api.setProtected(oldest.id, true);
    const keepLast = COUNT - 5;
    const doomed = sorted.slice(keepLast, COUNT - 1).map((i) => i.id);
    const started = Date.now();
    const run = await runAction({
      mode: 'prune',
      instance: instanceId,
      region: R1,
      'snapshot-name': `${cfg.tag}-page-*`,
      'keep-last': String(keepLast),
      ...authInputs(cfg),
    });
    console.log(`# prune over ${COUNT} took ${((Date.now() - started) / 1000).toFixed(1)} s, ${run.outputs['api-requests']} API requests`);
    succeeded(run);
    assert.match(run.stdout, new RegExp(`Instance ${instanceId} is not found; pruning the snapshots that name it`));
    assert.match(run.stdout, new RegExp(`${COUNT} snapshot\\(s\\) in scope; policy keep-last ${keepLast} keeps ${keepLast + 1} and deletes 4`));
    assert.deepEqual(new Set(JSON.parse(run.outputs['deleted-snapshot-ids']!)), new Set(doomed));
    const kept = new Set(JSON.parse(run.outputs['kept-snapshot-ids']!) as string[]);
    assert.equal(kept.size, keepLast + 1);
    assert.ok(kept.has(oldest.id), 'the protected oldest (second page) is kept');
    for (const id of doomed) assert.equal(await api.image(id), undefined, `${id} is deleted`);
    assert.equal((await api.images({ ...query, limit: '1000' })).length, COUNT - 4);
    // The summary shows at most 500 rows of a long prune.
    assert.match(run.summary, new RegExp(`In scope: ${COUNT}; kept: ${keepLast + 1}; deleted: 4\\.`));
  },
);
