import { Input } from '../../lib/constants.ts';
import { isoSeconds } from '../../lib/duration.ts';
import { log, t } from '../../lib/log.ts';
import type { Cloud } from '../../openstack/cloud.ts';
import { exactNameFilter, type Image } from '../../openstack/image.ts';
import { Deadline, poll } from '../../lib/wait.ts';
import type { DeleteSettings } from '../../settings/delete.ts';
import { deleteSnapshot, type Deletion } from './deletion.ts';
import { StepError, type Outcome } from '../outcome.ts';
import { listServers, ofInstance, plan, refusal, resolveInstance } from './guard.ts';
import { instancesOf, MARKS, type Marked } from '../snapshots.ts';

export interface DeleteResult {
  mode: 'delete';
  dryRun: boolean;
  deletions: Deletion[];
  /** The image was already gone (by ID), or no image had the name and ignore-missing allowed it. */
  missing?: string;
}

/** How long Glance is given to stop showing an image it deleted (it deletes at once; a store may take a moment). */
const CONFIRM_MS = 10_000;

/** The instance delete is narrowed to, and the Cinder snapshots of its volumes (what ties an unmarked volume-backed snapshot to it). */
async function instanceOf(cloud: Cloud, settings: DeleteSettings): Promise<{ id: string; label: string; snapshots: Set<string> } | undefined> {
  const { server, id } = await resolveInstance(cloud, settings, 'deleting among');
  if (!id) return undefined;
  const snapshots = server?.volumeIds.length ? await (await cloud.volumes()).snapshotIdsOf(server.volumeIds) : new Set<string>();
  return { id, label: server ? `${server.name} (${id})` : id, snapshots };
}

/** The one image named exactly `name` in this project, optionally only the instance's snapshots. */
async function byName(cloud: Cloud, name: string, instance: Awaited<ReturnType<typeof instanceOf>>): Promise<Marked | undefined> {
  const images = await cloud.images();
  let matches = (await images.listAll({ ...exactNameFilter(name), owner: await cloud.projectId() }, MARKS)).filter((image) => image.name === name);
  if (instance) matches = matches.filter((image) => ofInstance(image, instance.id, instance.snapshots));
  if (matches.length > 1) {
    throw new StepError(
      `${matches.length} snapshots are named "${name}"${instance ? ` for instance ${instance.label}` : ''}: ` +
        `${matches.map((image) => `${image.id} (created ${isoSeconds(image.createdAt)})`).join(', ')}. Set ${Input.SnapshotId} to the one to delete`,
    );
  }
  return matches[0];
}

/** After the DELETE: Glance no longer shows the image, or says it is on its way out. Briefly: it deletes at once. */
async function confirmGone(cloud: Cloud, image: Image, answered: 'deleted' | 'missing'): Promise<void> {
  const images = await cloud.images();
  const gone = await poll(async () => {
    const now = await images.get(image.id);
    return { done: !now || now.status === 'deleted' || now.status === 'pending_delete', value: now };
  }, Deadline.after(CONFIRM_MS));
  if (!gone.done) {
    throw new StepError(
      `Glance answered ${answered === 'deleted' ? 'the DELETE of' : '404 to the DELETE of'} snapshot ${image.id}, but ${CONFIRM_MS / 1000} s later ` +
        `still shows it as ${gone.last?.status}; check it with: openstack image show ${image.id}`,
    );
  }
}

export async function deleteMode(cloud: Cloud, settings: DeleteSettings): Promise<Outcome<DeleteResult>> {
  // The in-use listing runs beside the lookup; an end before it is used (a refusal, a missing
  // image) stops it, so the step does not wait out its retries.
  const listing = new AbortController();
  try {
    return await deleteOne(cloud, settings, listing.signal);
  } finally {
    listing.abort();
  }
}

async function deleteOne(cloud: Cloud, settings: DeleteSettings, listing: AbortSignal): Promise<Outcome<DeleteResult>> {
  const dryRun = settings.dryRun;
  const instance = await instanceOf(cloud, settings);
  const { target } = settings;
  // Nova's in-use listing beside Glance's lookup: each service checks a new token with Keystone on
  // its first request (about a second on the loopback cloud), so the two checks overlap.
  const servers = listServers(cloud, listing);
  servers.catch(() => undefined);
  const image = 'imageId' in target ? await (await cloud.images()).get(target.imageId, MARKS) : await byName(cloud, target.name, instance);
  if (!image) {
    if ('imageId' in target) {
      log.notice(t`Snapshot ${target.imageId} is already gone: nothing to delete`);
      return { result: { mode: 'delete', dryRun, deletions: [], missing: target.imageId } };
    }
    const what = `No snapshot named "${target.name}"${instance ? ` for instance ${instance.label}` : ''} in region ${settings.region}`;
    if (settings.ignoreMissing) {
      log.notice(t`${what}: nothing to delete (ignore-missing)`);
      return { result: { mode: 'delete', dryRun, deletions: [], missing: target.name } };
    }
    throw new StepError(`${what}. Check snapshot-name (matched exactly) and region, or set ignore-missing: true`);
  }
  const refuse = (why: string) => new StepError(`Snapshot ${image.id} "${image.name ?? ''}" is not deleted: ${why}`);
  const refused = refusal(image, await cloud.projectId());
  if (refused) throw refuse(refused);
  if (instance && !ofInstance(image, instance.id, instance.snapshots)) {
    const recorded = instancesOf(image);
    throw refuse(`it is not a snapshot of instance ${instance.label}; it records ${recorded.join(' and ') || 'no instance'}`);
  }
  const { planned, held } = await plan(cloud, [image], { allowInUse: settings.deleteInUse, instanceId: instance?.id, servers });
  const [inUse] = held;
  if (inUse) throw refuse(`${inUse.reason}. Set delete-in-use: true to delete it all the same`);
  // The one image, planned: deleted, then confirmed gone.
  const deletions = [];
  for (const item of planned) {
    const deletion = await deleteSnapshot(cloud, item, dryRun);
    if (deletion.outcome !== 'would-delete') await confirmGone(cloud, image, deletion.outcome);
    deletions.push(deletion);
  }
  return { result: { mode: 'delete', dryRun, deletions } };
}
