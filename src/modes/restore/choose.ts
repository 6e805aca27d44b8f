import { Input, MANAGED_BY, Property } from '../../lib/constants.ts';
import { isoSeconds } from '../../lib/duration.ts';
import { globToRegExp } from '../../lib/glob.ts';
import { log, t } from '../../lib/log.ts';
import type { Cloud } from '../../openstack/cloud.ts';
import type { Compute, Server } from '../../openstack/compute.ts';
import { statusOf } from '../../openstack/errors.ts';
import { exactNameFilter, type Image } from '../../openstack/image.ts';
import type { RestoreSettings } from '../../settings/restore.ts';
import { StepError } from '../outcome.ts';
import { beforeRestoreOf, instancesOf, isInstanceSnapshot, isManaged, MARKS, type Marked } from '../snapshots.ts';

/** Every instance the image records is this server (an image with none is no one's). */
export function ofServer(image: Marked, server: Server): boolean {
  const instances = instancesOf(image);
  return instances.length > 0 && instances.every((id) => id === server.id);
}
const label = (image: Image) => `${image.id} "${image.name ?? ''}" (created ${isoSeconds(image.createdAt)})`;

/** The snapshot to restore, as the settings name it, and why it was chosen (logged). */
export async function chooseSnapshot(
  cloud: Cloud,
  settings: Pick<RestoreSettings, 'snapshot' | 'region' | 'allowOtherInstance'>,
  server: Server,
  doing = 'Restoring',
): Promise<Marked> {
  const images = await cloud.images();
  const { snapshot } = settings;
  const where = `of instance ${server.name} (${server.id}) in region ${settings.region}`;
  if ('imageId' in snapshot) {
    const image = await images.get(snapshot.imageId, MARKS);
    if (!image) throw new StepError(`${Input.SnapshotId}: there is no image ${snapshot.imageId} in region ${settings.region}`);
    log.info(t`${doing} snapshot ${label(image)}: given by ${Input.SnapshotId}`);
    return image;
  }
  const owner = await cloud.projectId();
  if ('name' in snapshot) {
    const named = (await images.listAll({ ...exactNameFilter(snapshot.name), owner }, MARKS)).filter((image) => image.name === snapshot.name);
    const matches = settings.allowOtherInstance ? named : named.filter((image) => ofServer(image, server));
    if (matches.length > 1)
      throw new StepError(
        `${matches.length} snapshots ${where} are named "${snapshot.name}": ${matches.map(label).join(', ')}. Set ${Input.SnapshotId} to the one to restore`,
      );
    const [image] = matches;
    if (!image) {
      const others = named.length
        ? `; ${named.length} image(s) of that name are snapshots of other instances (${Input.AllowOtherInstance}: true restores one)`
        : '';
      throw new StepError(`No snapshot named "${snapshot.name}" ${where}${others}. Check ${Input.SnapshotName} (matched exactly), or give ${Input.SnapshotId}`);
    }
    log.info(t`${doing} snapshot ${label(image)}: named exactly so`);
    return image;
  }
  const matcher = snapshot.nameGlob ? globToRegExp(snapshot.nameGlob) : undefined;
  const globbed = snapshot.nameGlob ? ` whose name matches "${snapshot.nameGlob}"` : '';
  // Newest first: the first that passes every check is the one (the rest of the listing is never fetched).
  const query = { owner, status: 'active', sort: 'created_at:desc', [Property.ManagedBy]: MANAGED_BY, [Property.InstanceId]: server.id };
  // The server as it was before a roll-back: as the newest, it would roll forward onto the state rolled back from.
  const skipped: string[] = [];
  for await (const image of images.list(query, MARKS)) {
    if (!(
      isManaged(image) &&
      image.status === 'active' &&
      image.owner === owner &&
      ofServer(image, server) &&
      (!matcher || (image.name !== null && matcher.test(image.name)))
    ))
      continue;
    if (beforeRestoreOf(image)) {
      skipped.push(image.id);
      continue;
    }
    if (skipped.length) {
      log.info(
        t`Skipped ${skipped.length} newer snapshot(s) taken before a restore (${Input.SnapshotBefore}): ${skipped.join(', ')}. They are the instance as it was before a roll-back, never chosen as the newest; give the ${Input.SnapshotId} or the exact ${Input.SnapshotName} of one to restore it`,
      );
    }
    log.info(t`${doing} snapshot ${label(image)}: the newest active one ${where} made by this action${globbed}`);
    return image;
  }
  const backups = skipped.length
    ? `, other than ${skipped.length} taken before a restore (${skipped.join(', ')}), which only its ${Input.SnapshotId} or exact ${Input.SnapshotName} restores`
    : '';
  throw new StepError(
    `There is no active snapshot ${where} made by this action${globbed}${backups}: give ${Input.SnapshotId} or ${Input.SnapshotName}, or take one first with mode create`,
  );
}

/** Why this image may not be restored onto this server; undefined when it may. Only reads. */
export async function restoreRefusal(
  compute: Compute,
  image: Marked,
  server: Server,
  projectId: string,
  allowOtherInstance: boolean,
): Promise<string | undefined> {
  if (image.status !== 'active') return `it is ${image.status}, not active`;
  if (image.owner !== projectId) return `it belongs to project ${image.owner ?? '(none)'}, not to this one (${projectId})`;
  if (!isInstanceSnapshot(image)) return 'it is not an instance snapshot (no image_type=snapshot, not made by this action)';
  if (image.volumeSnapshotIds.length)
    return 'it is the snapshot of a volume-backed instance: its data is in Cinder snapshots and the image itself is empty, so Nova cannot rebuild an instance from it';
  if (!allowOtherInstance && !ofServer(image, server)) {
    return `it is a snapshot of ${instancesOf(image).join(' and ') || 'no recorded instance'}, not of instance ${server.name} (${server.id}); set ${Input.AllowOtherInstance}: true to restore it all the same`;
  }
  if (!server.flavorId) return undefined;
  // A flavor deleted since the server was made cannot be read: Nova makes the same check itself.
  const disk = await compute.flavorDiskGb(server.flavorId).catch((error: unknown) => {
    if (statusOf(error) === 404) return 0;
    throw error;
  });
  const needs = Math.max(image.minDisk, Math.ceil((image.size ?? 0) / 1024 ** 3));
  if (disk > 0 && needs > disk) return `its disk needs ${needs} GiB, more than the ${disk} GiB root disk of the instance's flavor ${server.flavorId}`;
  return undefined;
}
