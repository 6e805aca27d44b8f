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
import { errorsOf, runAction } from '../support/run-action.ts';
import { Api, appcredInputs, cleanupRegion, loadConfig, passwordInputs, RUN_PROPERTY, type Image } from './cloud.ts';

const ENABLED = process.env.OSA_REAL_PAGES === '1';
const cfg = loadConfig();
const R1 = cfg.region;
const COUNT = Number(process.env.OSA_REAL_PAGES_COUNT ?? 1010);
const PAGE = 1000;
const instanceId = randomUUID();
const authInputs = () => (cfg.password ? passwordInputs(cfg) : appcredInputs(cfg));

let api: Api;
let sorted: Image[] = [];

before(
  async () => {
    if (!ENABLED) return;
    api = await Api.connect(cfg);
    const started = Date.now();
    const images: Image[] = [];
    const names = Array.from({ length: COUNT }, (_, i) => `${cfg.tag}-page-${String(i).padStart(4, '0')}`);
    let next = 0;
    const worker = async () => {
      while (next < names.length) {
        const name = names[next++]!;
        images.push(
          await api.seedImage(R1, name, {
            managed_by: 'openstack-snapshot-action',
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
    const left = await api.listImages(R1, { [RUN_PROPERTY]: cfg.tag, owner: api.projectId, limit: '1000' });
    let next = 0;
    const worker = async () => {
      while (next < left.length) {
        const image = left[next++]!;
        if (image.protected) await api.setProtected(R1, image.id, false);
        await api.deleteImage(R1, image.id);
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
    const first = await api.imagePage(R1, { ...query, limit: String(PAGE + 500) });
    assert.equal(first.images.length, PAGE, `Glance caps a page at ${PAGE} (api_limit_max), whatever limit is asked`);
    assert.ok(first.next, 'and links the next page');

    // The oldest is protected: only the second page shows it. keep-last COUNT-5 leaves 5 to delete,
    // all older than the first page: the protected one stays, the other four go.
    const oldest = sorted[COUNT - 1]!;
    await api.setProtected(R1, oldest.id, true);
    const keepLast = COUNT - 5;
    const doomed = sorted.slice(keepLast, COUNT - 1).map((i) => i.id);
    const started = Date.now();
    const run = await runAction({
      mode: 'prune',
      instance: instanceId,
      region: R1,
      'snapshot-name': `${cfg.tag}-page-*`,
      'keep-last': String(keepLast),
      ...authInputs(),
    });
    console.log(`# prune over ${COUNT} took ${((Date.now() - started) / 1000).toFixed(1)} s, ${run.outputs['api-requests']} API requests`);
    assert.equal(run.code, 0, run.stdout.split('\n').slice(-40).join('\n'));
    assert.deepEqual(errorsOf(run), []);
    assert.match(run.stdout, new RegExp(`Instance ${instanceId} is not found; pruning the snapshots that name it`));
    assert.match(run.stdout, new RegExp(`${COUNT} snapshot\\(s\\) in scope; policy keep-last ${keepLast} keeps ${keepLast + 1} and deletes 4`));
    assert.deepEqual(new Set(JSON.parse(run.outputs['deleted-snapshot-ids']!)), new Set(doomed));
    const kept = new Set(JSON.parse(run.outputs['kept-snapshot-ids']!) as string[]);
    assert.equal(kept.size, keepLast + 1);
    assert.ok(kept.has(oldest.id), 'the protected oldest (second page) is kept');
    for (const id of doomed) assert.equal(await api.getImage(R1, id), undefined, `${id} is deleted`);
    assert.equal((await api.listImages(R1, { ...query, limit: '1000' })).length, COUNT - 4);
    // The summary shows at most 500 rows of a long prune.
    assert.match(run.summary, new RegExp(`In scope: ${COUNT}; kept: ${keepLast + 1}; deleted: 4\\.`));
  },
);
