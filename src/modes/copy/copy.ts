import pMap from 'p-map';
import { Input, MANAGED_BY, Property } from '../../lib/constants.ts';
import { globToRegExp } from '../../lib/glob.ts';
import { isoSeconds } from '../../lib/duration.ts';
import { log, t, within } from '../../lib/log.ts';
import type { Cloud } from '../../openstack/cloud.ts';
import type { Server } from '../../openstack/compute.ts';
import type { Image } from '../../openstack/image.ts';
import type { CopyPlan, CopySettings } from '../../settings/copy.ts';
import { Cancellation } from '../cancel.ts';
import { StepError, type Outcome } from '../outcome.ts';
import { selectServers } from '../servers.ts';
import { beforeRestoreOf, instancesOf, isManaged, MARKS } from '../snapshots.ts';
import { copyRefusal, copyToRegion, type CopyRecord } from './copy-image.ts';

export interface CopyResult {
  mode: 'copy';
  dryRun: boolean;
  copies: CopyRecord[];
}

/**
 * The regions to copy to, checked against the catalog once logged in and before anything is
 * changed; and what each target Glance offers (`glance-download` would need no runner in the
 * middle, but streaming is the path every Glance takes: it is the one used).
 */
export async function checkTargets(cloud: Cloud, plan: CopyPlan): Promise<void> {
  const offered = await cloud.regionsOf(['image']);
  const missing = plan.regions.filter((region) => !offered.some((o) => o.toLowerCase() === region.toLowerCase()));
  if (missing.length)
    throw new StepError(
      `${Input.CopyToRegion}: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not in the catalog for the image service: this project's regions are ${offered.join(', ') || '(none)'}; nothing was changed`,
    );
  for (const region of plan.regions) {
    const methods = await (
      await cloud.inRegion(region).images()
    )
      .importInfo()
      .then((info) => info.methods)
      .catch(() => []);
    log.info(
      t`Region ${region}'s Glance offers the import methods: ${methods.join(', ') || '(none)'}; the data is streamed through the runner (GET into PUT, never on disk)`,
    );
  }
}

/** The newest active snapshot of the server made by this action (of the names the glob matches), never one restore took before a rebuild. */
async function newestOf(cloud: Cloud, server: Server, nameGlob: string | undefined): Promise<Image<string>> {
  const images = await cloud.images();
  const owner = await cloud.projectId();
  const matcher = nameGlob ? globToRegExp(nameGlob) : undefined;
  const query = { owner, status: 'active', sort: 'created_at:desc', [Property.ManagedBy]: MANAGED_BY, [Property.InstanceId]: server.id };
  for await (const image of images.list(query, MARKS)) {
    const ofServer = instancesOf(image).length > 0 && instancesOf(image).every((id) => id === server.id);
    if (!(isManaged(image) && image.status === 'active' && image.owner === owner && ofServer && !beforeRestoreOf(image))) continue;
    if (matcher && (image.name === null || !matcher.test(image.name))) continue;
    const full = await images.getAll(image.id);
    if (!full) continue;
    log.info(t`Instance ${server.name}: copying its newest snapshot ${image.id} "${image.name ?? ''}" (created ${isoSeconds(image.createdAt)})`);
    return full;
  }
  throw new StepError(
    `There is no active snapshot of instance ${server.name} (${server.id}) in region ${cloud.region} made by this action${nameGlob ? ` whose name matches "${nameGlob}"` : ''}: give ${Input.SnapshotId}, or take one first with mode create`,
  );
}

/** Every snapshot to copy, each refused (with the reason) before anything is sent if it cannot be copied. */
async function sources(cloud: Cloud, settings: CopySettings): Promise<Image<string>[]> {
  const { source } = settings;
  const images = await cloud.images();
  const found: Image<string>[] = [];
  if ('imageId' in source) {
    const image = await images.getAll(source.imageId);
    if (!image) throw new StepError(`${Input.SnapshotId}: there is no image ${source.imageId} in region ${settings.region}`);
    found.push(image);
  } else {
    const servers = await selectServers(await cloud.compute(), source.servers, await cloud.projectId());
    if (!servers.length) log.notice(t`No instance matches the selection: nothing to copy (${Input.AllowEmptySelection})`);
    for (const server of servers) found.push(await newestOf(cloud, server, source.nameGlob));
  }
  const projectId = await cloud.projectId();
  for (const image of found) {
    const why = copyRefusal(image, projectId);
    if (why) throw new StepError(`Snapshot ${image.id} "${image.name ?? ''}" is not copied: ${why}. Nothing was changed`);
  }
  return found;
}

/** Copy one snapshot to each region in turn: each copy has its own outcome; the failures are named together. */
export async function copySnapshot(cloud: Cloud, plan: CopyPlan, source: Image<string>, dryRun: boolean, cancel: Cancellation): Promise<Outcome<CopyRecord[]>> {
  const records: CopyRecord[] = [];
  const failures: string[] = [];
  for (const region of plan.regions) {
    if (cancel.cancelled) {
      failures.push(cancel.error(t`before snapshot ${source.id} was copied to region ${region}`).message);
      continue;
    }
    const { result, failure } = await copyToRegion({ cloud, source, region, plan, dryRun, cancel });
    if (result) records.push(result);
    if (failure) {
      log.warning(t`${failure.message}`);
      failures.push(failure.message);
    }
  }
  return { result: records, ...(failures.length ? { failure: new StepError(failures.join('; ')) } : {}) };
}

/** Mode copy: the snapshot given, or each selected instance's newest, copied to every region. */
export async function copyMode(cloud: Cloud, settings: CopySettings, cancel = new Cancellation()): Promise<Outcome<CopyResult>> {
  // Everything that can be refused is, before the first change: the regions, then each snapshot.
  await checkTargets(cloud, settings.copy);
  const found = await sources(cloud, settings);
  const result: CopyResult = { mode: 'copy', dryRun: settings.dryRun, copies: [] };
  const failures: string[] = [];
  await pMap(
    found,
    async (image) => {
      const each = () => copySnapshot(cloud, settings.copy, image, settings.dryRun, cancel);
      // Several snapshots at once: each one's lines prefixed with its name.
      const outcome = await (found.length > 1 ? within(image.name ?? image.id, each) : each());
      result.copies.push(...(outcome.result ?? []));
      if (outcome.failure) failures.push(outcome.failure.message);
    },
    { concurrency: settings.concurrency },
  );
  if (cancel.cancelled && !failures.length) failures.push(cancel.error('after the copies were made: they stand, but a cancelled job fails').message);
  return { result, ...(failures.length ? { failure: new StepError(failures.join('; ')) } : {}) };
}
