// `npm run demo`: the action's main job on a laptop, no cloud account. Starts the project's local
// OpenStack, gives server web-1 a week of older snapshots, then runs the built dist/index.js the
// way a runner does: create a snapshot, then prune what a keep-daily policy does not keep; then a
// bad deploy changes the server and the roll-back restores it from the snapshot.
import { LocalCloud } from '../test/local-cloud/cloud.ts';
import { runAction, type ActionRun } from '../test/support/run-action.ts';

const DAY = 86_400_000;

/** The job summary's HTML as plain text, a row a line. */
function summaryText(html: string): string {
  return html
    .replace(/<\/(h\d|p|tr)>/g, '\n')
    .replace(/<\/t[hd]>/g, ' | ')
    .replace(/<[^>]+>/g, '')
    .replace(/&gt;/g, '>')
    .replace(/&lt;/g, '<')
    .replace(/&amp;/g, '&')
    .trim();
}

function show(title: string, run: ActionRun): void {
  console.log(`\n=== ${title}: exit ${run.code} in ${(run.durationMs / 1000).toFixed(1)} s`);
  console.log('--- log');
  console.log(
    run.stdout
      .split('\n')
      .filter((l) => l && !l.startsWith('::debug::') && !l.startsWith('::add-mask::'))
      .join('\n'),
  );
  console.log('--- outputs');
  for (const [name, value] of Object.entries(run.outputs)) console.log(`${name} = ${value.length > 120 ? `${value.slice(0, 117)}...` : value}`);
  console.log('--- job summary');
  console.log(summaryText(run.summary));
}

const cloud = await LocalCloud.start({ snapshotSeconds: 3, rebuildSeconds: 2 });
try {
  const web = cloud.addServer({ region: 'GRA7', name: 'web-1' });
  for (let day = 1; day <= 7; day += 1) {
    const today = new Date();
    const createdAt = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate() - day, 3));
    cloud.addImage({
      region: 'GRA7',
      name: `web-1-${createdAt.toISOString().slice(0, 10).replace(/-/g, '')}-030000`,
      createdAt,
      properties: { managed_by: 'openstack-snapshot-action', source_instance_id: web.id, image_type: 'snapshot', instance_uuid: web.id },
    });
  }
  cloud.addImage({
    region: 'GRA7',
    name: 'golden-image-by-hand',
    createdAt: new Date(Date.now() - 30 * DAY),
    properties: { image_type: 'snapshot', instance_uuid: web.id },
  });

  const credentials = {
    'auth-url': cloud.authUrl,
    username: cloud.demo.username,
    password: cloud.demo.password,
    'project-name': cloud.demo.projectName,
    region: 'GRA7',
  };
  console.log(`Local OpenStack at ${cloud.url}: instance web-1 (${web.id}) with 7 daily snapshots and one made by hand.`);
  const created = await runAction({ ...credentials, instance: 'web-1', 'keep-daily': '3' });
  show('create, then prune with keep-daily 3', created);
  // The deploy goes wrong: web-1 now runs another image. The roll-back step restores the snapshot.
  const release = cloud.addImage({ region: 'GRA7', name: 'bad-release', properties: {} });
  cloud.world.findServer(web.id)!.imageRef = release.id;
  show(
    'restore (the roll-back after a failed deploy)',
    await runAction({ ...credentials, mode: 'restore', instance: 'web-1', 'snapshot-id': created.outputs['snapshot-id'] ?? '' }),
  );
  const now = cloud.server(web.id)!;
  console.log(`
web-1 is ${now.status} on image ${now.imageRef} (the snapshot: ${created.outputs['snapshot-id']}), same ID ${now.id}`);
  show('prune dry-run, keep-last 1', await runAction({ ...credentials, mode: 'prune', instance: 'web-1', 'keep-last': '1', 'dry-run': 'true' }));
  const left = cloud.images('GRA7').filter((image) => image.owner === cloud.demo.projectId);
  console.log(`\nImages left in GRA7: ${left.map((image) => image.name).join(', ')}`);
  console.log(
    'golden-image-by-hand is among them: it was made by hand, so it has no managed_by property, and no prune of this action ' +
      'counts or deletes it (include-unmanaged: true would bring it into scope).',
  );
} finally {
  await cloud.stop();
}
