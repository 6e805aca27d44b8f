import { randomUUID } from 'node:crypto';
import { Input, MANAGED_BY, Property } from '../../lib/constants.ts';
import { formatDuration } from '../../lib/duration.ts';
import { log, t } from '../../lib/log.ts';
import type { Cloud } from '../../openstack/cloud.ts';
import { ApiError, statusOf } from '../../openstack/errors.ts';
import { ImageDataError, type Image, type ImageService } from '../../openstack/image.ts';
import { transferImageData } from '../../openstack/image-data.ts';
import type { CopyPlan } from '../../settings/copy.ts';
import type { Cancellation } from '../cancel.ts';
import { explain, StepError, type Outcome } from '../outcome.ts';
import { prune, type PruneResult } from '../prune/prune.ts';

/** How the data went: streamed through the runner, or not at all (a dry run; a copy that was already there). */
type CopyMethod = 'stream' | 'existing' | 'none';

/** One copy of one snapshot in one region: what the `copies` output and the summary show. */
export interface CopyRecord {
  region: string;
  sourceRegion: string;
  sourceId: string;
  sourceName: string | null;
  /** The instance the snapshot records (source_instance_id), if any. */
  instanceId: string | null;
  /** The copy's image ID in `region` ('' in a dry run). */
  imageId: string;
  status: 'active' | 'planned' | 'failed';
  bytes: number;
  durationMs: number;
  method: CopyMethod;
  /** The prune of the region's copies of the instance after it (keep-*). */
  prune?: PruneResult;
  error?: string;
}

/** Glance's own attributes, and what Nova writes that only means something in the snapshot's region: not carried to a copy. */
const NOT_COPIED = new Set([
  'id',
  'name',
  'status',
  'visibility',
  'protected',
  'checksum',
  'os_hash_algo',
  'os_hash_value',
  'size',
  'virtual_size',
  'owner',
  'created_at',
  'updated_at',
  'tags',
  'self',
  'file',
  'schema',
  'direct_url',
  'locations',
  'os_hidden',
  'stores',
  'disk_format',
  'container_format',
  'min_disk',
  'min_ram',
  'base_image_ref',
  'image_location',
  'image_state',
  'owner_id',
  'user_id',
  'owner_project_name',
  'owner_user_name',
  'boot_roles',
  'block_device_mapping',
  'bdm_v2',
  'root_device_name',
  // A re-run finds the snapshot its first attempt took by these, in the source region only.
  'github_run_id',
  Property.Job,
  Property.Step,
]);

/** The new image's fields: the source's formats, sizes and properties (OS, hardware, provenance), and where it was copied from. */
function copyFields(source: Image<string>, sourceRegion: string): Record<string, unknown> {
  const properties: Record<string, string> = {};
  for (const [key, value] of Object.entries(source.properties)) {
    // Glance reserves os_glance_* for itself and refuses them in a create.
    if (NOT_COPIED.has(key) || key.startsWith('os_glance') || typeof value !== 'string') continue;
    properties[key] = value;
  }
  const p = source.properties;
  const tags = Array.isArray(p.tags) ? p.tags.filter((tag): tag is string => typeof tag === 'string') : [];
  return {
    ...properties,
    name: source.name ?? source.id,
    disk_format: p.disk_format,
    container_format: p.container_format,
    min_disk: typeof p.min_disk === 'number' ? p.min_disk : 0,
    min_ram: typeof p.min_ram === 'number' ? p.min_ram : 0,
    visibility: 'private',
    ...(tags.length ? { tags } : {}),
    [Property.CopiedFromRegion]: sourceRegion,
    [Property.CopiedFromImage]: source.id,
  };
}

/** The hash Glance computed of the image's data: os_hash_value (multihash), else the md5 checksum. */
function hashOf(image: Image<string>): { kind: string; value: string } | undefined {
  const { os_hash_algo: algo, os_hash_value: value, checksum } = image.properties;
  if (typeof value === 'string' && value) return { kind: typeof algo === 'string' ? algo : 'os_hash_value', value };
  if (typeof checksum === 'string' && checksum) return { kind: 'md5', value: checksum };
  return undefined;
}

/** Why this image cannot be copied (nothing sent yet); undefined when it can. */
export function copyRefusal(image: Image<string>, projectId: string): string | undefined {
  if (image.bdmV2 || image.volumeSnapshotIds.length)
    return `it is the snapshot of a volume-backed instance: it holds no image data (the disks are Cinder snapshots, which stay in their region), so there is nothing to copy. Copy the volumes with Cinder backups instead`;
  if (image.status !== 'active') return `it is ${image.status}, not active`;
  if (image.owner !== projectId) return `it belongs to project ${image.owner ?? '(none)'}, not to this one (${projectId})`;
  if (!image.size) return 'it has no data (size 0)';
  if (!hashOf(image)) return 'Glance gives no hash of its data (os_hash_value or checksum), so a copy could not be checked';
  return undefined;
}

const MB = 1_000_000;
const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
/** How often a copy under way says how far it is. */
const PROGRESS_MS = 10_000;

/** The snapshot's copy already in the region, active and with the same data: a second run copies nothing. */
async function existingCopy(target: ImageService, source: Image<string>, sourceRegion: string, projectId: string): Promise<Image<string> | undefined> {
  const query = { owner: projectId, status: 'active', [Property.CopiedFromImage]: source.id, [Property.CopiedFromRegion]: sourceRegion };
  const sourceHash = hashOf(source);
  for await (const image of target.list(query, [Property.CopiedFromImage, Property.CopiedFromRegion, 'os_hash_value', 'os_hash_algo', 'checksum'])) {
    if (image.properties[Property.CopiedFromImage] !== source.id || image.properties[Property.CopiedFromRegion] !== sourceRegion) continue;
    if (image.status === 'active' && image.owner === projectId && hashOf(image)?.value === sourceHash?.value) return image;
  }
  return undefined;
}

/** After the upload Glance marks the image active (at once, or within a minute). */
async function untilStored(target: ImageService, id: string): Promise<Image<string> | undefined> {
  let image: Image<string> | undefined;
  for (let look = 0; look < 60; look++) {
    image = await target.getAll(id);
    if (!image || image.status !== 'saving') return image;
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return image;
}

/**
 * Delete the copy a failed attempt left (queued, saving or with the wrong data), and make sure it
 * is gone: the words to add to the failure.
 */
async function removeCopy(target: ImageService, id: string, region: string, made: boolean): Promise<string> {
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const deleted = await target.delete(id);
      // Not made (the create was refused or never reached Glance): nothing to delete.
      if (deleted === 'missing' && !made && !(await target.getAll(id))) return `no image was left in region ${region}`;
      if (!(await target.getAll(id))) return `the partial copy ${id} in region ${region} was deleted`;
    } catch (error) {
      log.debug(`deleting ${id} in ${region}: ${error instanceof Error ? error.message : String(error)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
  }
  return `the partial copy ${id} in region ${region} could NOT be deleted: delete it with: openstack --os-region-name ${region} image delete ${id}`;
}

/** What went wrong, said of the side that failed. */
async function whyFailed(error: unknown, source: ImageService, image: Image<string>, region: string, sourceRegion: string): Promise<string> {
  if (error instanceof ImageDataError && error.stage === 'download') {
    const now = await source.getAll(image.id).catch(() => image);
    if (!now || now.status !== 'active')
      return `snapshot ${image.id} was ${now ? `made ${now.status}` : 'deleted'} in region ${sourceRegion} while it was being copied (${error.message})`;
    return `reading snapshot ${image.id} from region ${sourceRegion}'s Glance failed: ${error.message}`;
  }
  if (error instanceof ImageDataError) {
    if (error.status === 413)
      return `region ${region}'s Glance refused the data as too large (413: its image_size_cap or the project's storage quota): ${error.message}`;
    return `region ${region}'s Glance failed while receiving the data${error.status ? ` (${error.status})` : ''}: ${error.message}`;
  }
  if (error instanceof ApiError && statusOf(error) === 413)
    return `region ${region}'s Glance refused the image (413: the project's image quota): ${error.message}`;
  return explain(error, { region });
}

export interface CopyOptions {
  cloud: Cloud;
  source: Image<string>;
  region: string;
  plan: CopyPlan;
  dryRun: boolean;
  cancel: Cancellation;
}

/**
 * Copy one active snapshot to one region: streamed from the source Glance into an image created
 * with an ID chosen here (a lost answer finds it again rather than making a second), checked by
 * its hash, then the region's copies of the instance pruned (keep-*). A copy that fails leaves
 * nothing behind in the region.
 */
export async function copyToRegion({ cloud, source, region, plan, dryRun, cancel }: CopyOptions): Promise<Outcome<CopyRecord>> {
  const sourceRegion = cloud.region;
  const instanceId = typeof source.properties[Property.InstanceId] === 'string' ? String(source.properties[Property.InstanceId]) : null;
  const record: CopyRecord = {
    region,
    sourceRegion,
    sourceId: source.id,
    sourceName: source.name,
    instanceId,
    imageId: '',
    status: 'planned',
    bytes: 0,
    durationMs: 0,
    method: 'none',
  };
  const targetCloud = cloud.inRegion(region);
  const target = await targetCloud.images();
  const images = await cloud.images();
  const projectId = await cloud.projectId();
  const existing = source.id ? await existingCopy(target, source, sourceRegion, projectId) : undefined;
  if (existing) {
    log.info(t`Snapshot ${source.id} is already in region ${region}: copy ${existing.id}, active, with the same data; nothing copied`);
    Object.assign(record, { imageId: existing.id, status: 'active', method: 'existing' });
    return withPrune(record, await pruneCopies(targetCloud, plan, record, source, dryRun));
  }
  if (dryRun) {
    const what = source.id ? t`snapshot ${source.id} "${source.name ?? ''}" (${mib(source.size ?? 0)})` : t`the new snapshot "${source.name ?? ''}"`;
    log.info(t`Dry run: would copy ${what} to region ${region}, streamed through the runner`);
    return withPrune(record, await pruneCopies(targetCloud, plan, record, source, dryRun));
  }
  cancel.check(t`snapshot ${source.id} was copied to region ${region}`);

  const id = randomUUID();
  const started = Date.now();
  const timeout = AbortSignal.timeout(plan.timeoutMs);
  const signal = AbortSignal.any([cancel.signal, timeout]);
  // From the create on, a process killed before the end names what it leaves.
  const settled = cancel.owe(
    t`Copy ${id} of snapshot ${source.id} in region ${region} may be left unfinished: delete it with: openstack --os-region-name ${region} image delete ${id}`,
  );
  let timer: NodeJS.Timeout | undefined;
  try {
    const { reused } = await target.createWithId(id, copyFields(source, sourceRegion), signal);
    record.imageId = id;
    log.info(
      t`Copying snapshot ${source.id} "${source.name ?? ''}" (${mib(source.size ?? 0)}) to region ${region} as ${id}${reused ? ' (found again after a lost answer)' : ''}`,
    );
    let moved = 0;
    timer = setInterval(() => {
      const seconds = (Date.now() - started) / 1000;
      const rate = moved / seconds;
      const size = source.size ?? 0;
      const left = rate > 0 && size > moved ? `, about ${formatDuration(((size - moved) / rate) * 1000)} left` : '';
      log.info(t`Copy to ${region}: ${mib(moved)} of ${mib(size)} (${size ? Math.floor((moved / size) * 100) : 0} %), ${(rate / MB).toFixed(1)} MB/s${left}`);
    }, PROGRESS_MS).unref();
    record.bytes = await transferImageData(images, source.id, target, id, {
      size: source.size,
      signal,
      onBytes: (bytes) => {
        moved = bytes;
      },
    });
    clearInterval(timer);
    const stored = await untilStored(target, id);
    const want = hashOf(source);
    const got = stored && hashOf(stored);
    if (!stored || stored.status !== 'active')
      throw new StepError(`region ${region}'s Glance did not make copy ${id} active after the upload: it is ${stored?.status ?? 'gone'}`);
    if (!want || !got || got.value !== want.value)
      throw new StepError(
        `the copy's data differs from the snapshot's: region ${region}'s Glance has ${got ? `${got.kind} ${got.value}` : 'no hash'}, region ${sourceRegion}'s ${want ? `${want.kind} ${want.value}` : 'none'}`,
      );
    record.durationMs = Date.now() - started;
    Object.assign(record, { status: 'active', method: 'stream' });
    const seconds = record.durationMs / 1000;
    log.info(
      t`Copied snapshot ${source.id} to region ${region}: ${id}, active, ${mib(record.bytes)} in ${seconds.toFixed(1)} s (${(record.bytes / MB / Math.max(seconds, 0.001)).toFixed(1)} MB/s), ${want.kind} checked`,
    );
  } catch (error) {
    clearInterval(timer);
    const why = cancel.cancelled
      ? cancel.error(t`while snapshot ${source.id} was copied to region ${region}`).message
      : timeout.aborted
        ? `Timed out (${Input.Timeout} ${formatDuration(plan.timeoutMs)}) copying snapshot ${source.id} to region ${region}`
        : error instanceof StepError
          ? error.message
          : await whyFailed(error, images, source, region, sourceRegion);
    // The ID was chosen before the create: whatever answer was lost, the image is deleted by it.
    const removed = await removeCopy(target, id, region, record.imageId !== '');
    settled();
    const message = `The copy of snapshot ${source.id} to region ${region} failed: ${why.replace(/\.$/, '')}; ${removed}`;
    Object.assign(record, { status: 'failed', imageId: '', durationMs: Date.now() - started, error: message });
    return { result: record, failure: new StepError(message, { cause: error }) };
  }
  settled();
  return withPrune(record, await pruneCopies(targetCloud, plan, record, source, dryRun));
}

function withPrune(record: CopyRecord, pruned: Outcome<PruneResult> | undefined): Outcome<CopyRecord> {
  if (!pruned) return { result: record };
  record.prune = pruned.result;
  return { result: record, ...(pruned.failure ? { failure: pruned.failure } : {}) };
}

/**
 * keep-*: the region's copies of the instance's snapshots, pruned under the same policy, with
 * every rule of prune (its marks, in use, protected, max-deletes, the new copy among those listed).
 */
async function pruneCopies(
  targetCloud: Cloud,
  plan: CopyPlan,
  record: CopyRecord,
  source: Image<string>,
  dryRun: boolean,
): Promise<Outcome<PruneResult> | undefined> {
  if (!plan.retention) return undefined;
  if (!record.instanceId || source.properties[Property.ManagedBy] !== MANAGED_BY) {
    log.info(t`Snapshot ${source.id} was not made by this action for an instance: its copies in region ${record.region} are not pruned`);
    return undefined;
  }
  log.info(t`Pruning the copies in region ${record.region} of instance ${record.instanceId}'s snapshots`);
  try {
    return await prune(targetCloud, {
      retention: { ...plan.retention, includeUnmanaged: false },
      dryRun,
      copiesOf: { instanceId: record.instanceId, region: record.sourceRegion },
      ...(record.imageId && !dryRun ? { justCreated: record.imageId } : {}),
    });
  } catch (error) {
    return {
      failure: new StepError(`The copy in region ${record.region} is active, but the prune of the copies after it failed: ${explain(error, targetCloud)}`),
    };
  }
}
