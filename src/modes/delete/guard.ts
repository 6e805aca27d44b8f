import { log, t } from '../../lib/log.ts';
import type { Cloud } from '../../openstack/cloud.ts';
import { isUuid, type Server } from '../../openstack/compute.ts';
import { CatalogError, NotFoundError } from '../../openstack/errors.ts';
import type { Volume, VolumeSnapshot } from '../../openstack/volume.ts';
import { ofProject } from '../servers.ts';
import { instancesOf, isInstanceSnapshot, type Marked } from '../snapshots.ts';

/** One image a run may delete, with the Cinder snapshots behind it and whether each may go too. */
export interface Planned {
  image: Marked;
  volumeSnapshots: { id: string; keep?: string }[];
}

/** An image the run chose to delete but keeps, and why. */
export interface Held {
  image: Marked;
  reason: string;
}

/** The instance a delete or prune is narrowed to: its server, or only its ID once the server is deleted. */
export async function resolveInstance(cloud: Cloud, settings: { instance?: string }, doing: string): Promise<{ server?: Server; id?: string }> {
  if (!settings.instance) return {};
  try {
    const server = ofProject(await (await cloud.compute()).findServer(settings.instance), await cloud.projectId());
    return { server, id: server.id };
  } catch (error) {
    // The snapshots of a deleted server are still worth deleting: its ID still names them.
    if (error instanceof NotFoundError && isUuid(settings.instance)) {
      log.info(t`Instance ${settings.instance} is not found; ${doing} the snapshots that name it`);
      return { id: settings.instance };
    }
    throw error;
  }
}

/** Why no run may delete this image, whatever the inputs say; undefined when it may. */
export function refusal(image: Marked, projectId: string): string | undefined {
  if (image.owner !== projectId) return `it belongs to project ${image.owner ?? '(none)'}, not to this one (${projectId})`;
  if (!isInstanceSnapshot(image))
    return 'it is not an instance snapshot (no image_type=snapshot, no volume-backed block_device_mapping, not made by this action)';
  if (image.protected) return `it is protected (unprotect it first with: openstack image set --unprotected ${image.id}, if it really should go)`;
  return undefined;
}

/** The image is a snapshot of this instance (and of no other), by its properties or, volume-backed and unmarked, by its Cinder snapshots. */
export function ofInstance(image: Marked, instanceId: string, snapshotsOfInstance: ReadonlySet<string>): boolean {
  const recorded = instancesOf(image);
  if (recorded.length) return recorded.every((id) => id === instanceId);
  const ids = image.volumeSnapshotIds;
  return ids.length > 0 && ids.every((id) => snapshotsOfInstance.has(id));
}

/**
 * Why a Cinder snapshot that an image names must stay when the image goes; undefined when Nova
 * made it for this image and nothing else needs it. A snapshot Cinder does not show is gone
 * already: its DELETE finds it missing.
 */
function whyKeep(
  id: string,
  snapshot: VolumeSnapshot | undefined,
  image: Marked,
  known: { projectId: string; owner: string[]; volumeById: Map<string, Volume>; madeFrom: Map<string, string[]>; namedBy: Map<string, string[]> },
): string | undefined {
  if (!snapshot) return undefined;
  if (snapshot.projectId && snapshot.projectId !== known.projectId) return `it belongs to project ${snapshot.projectId}`;
  if (snapshot.name !== `snapshot for ${image.name}`)
    return `it is named "${snapshot.name ?? ''}", not "snapshot for ${image.name}": Nova did not make it for this image`;
  const volume = known.volumeById.get(snapshot.volumeId);
  if (volume?.serverIds.length && known.owner.length && !volume.serverIds.some((server) => known.owner.includes(server))) {
    return `it is a snapshot of volume ${volume.id}, attached to instance ${volume.serverIds.join(', ')}, not to the snapshot's instance`;
  }
  if (known.madeFrom.has(id)) return `volume ${known.madeFrom.get(id)!.join(', ')} was created from it`;
  if (known.namedBy.has(id)) return `snapshot ${known.namedBy.get(id)!.join(', ')} still names it`;
  return undefined;
}

const group = <T>(pairs: [string, T][]) => {
  const map = new Map<string, T[]>();
  for (const [key, value] of pairs) map.set(key, [...(map.get(key) ?? []), value]);
  return map;
};

/**
 * What still uses the candidates, looked up once for the whole batch: the servers booted from an
 * image (Nova lists a project's servers with their image), and for volume-backed snapshots the
 * volumes made from their Cinder snapshots and the other images that name those snapshots.
 * Only reads: a dry run makes the same checks.
 */
export async function plan(
  cloud: Cloud,
  candidates: readonly Marked[],
  options: { allowInUse?: boolean; instanceId?: string; servers?: Promise<Server[]> } = {},
): Promise<{ planned: Planned[]; held: Held[] }> {
  if (!candidates.length) return { planned: [], held: [] };
  const servers: [string, string][] = [];
  for (const server of await (options.servers ?? listServers(cloud))) if (server.imageId) servers.push([server.imageId, `${server.name} (${server.id})`]);
  const bootedFrom = group(servers);
  const volumeBacked = candidates.some((image) => image.volumeSnapshotIds.length);
  // Without Cinder (not in this region's catalog) nothing can be checked, so no volume snapshot is deleted.
  const volumes = volumeBacked
    ? await cloud.volumes().catch((error: unknown) => {
        if (error instanceof CatalogError) return error;
        throw error;
      })
    : undefined;
  const allVolumes: Volume[] = volumes && !(volumes instanceof CatalogError) ? await volumes.volumes() : [];
  const madeFrom = group(allVolumes.flatMap((v): [string, string][] => (v.snapshotId ? [[v.snapshotId, v.id]] : [])));
  const volumeById = new Map(allVolumes.map((v) => [v.id, v]));
  const doomed = new Set(candidates.map((image) => image.id));
  const projectId = await cloud.projectId();
  const naming: [string, string][] = [];
  if (volumeBacked) {
    for await (const other of (await cloud.images()).list({ owner: projectId })) {
      if (!doomed.has(other.id)) naming.push(...other.volumeSnapshotIds.map((id): [string, string] => [id, other.id]));
    }
  }
  const namedBy = group(naming);

  const planned: Planned[] = [];
  const held: Held[] = [];
  for (const image of candidates) {
    const snapshotIds = image.volumeSnapshotIds;
    const uses = [
      ...(bootedFrom.get(image.id) ?? []).map((server) => `instance ${server} was booted from it`),
      ...snapshotIds.flatMap((id) => (madeFrom.get(id) ?? []).map((volume) => `volume ${volume} was created from its volume snapshot ${id}`)),
    ];
    if (uses.length && !options.allowInUse) {
      held.push({ image, reason: `in use: ${uses.join('; ')}` });
      continue;
    }
    const instances = instancesOf(image);
    const owner = instances.length ? instances : options.instanceId ? [options.instanceId] : [];
    const volumeSnapshots: Planned['volumeSnapshots'] = [];
    for (const id of snapshotIds) {
      if (!volumes || volumes instanceof CatalogError) {
        volumeSnapshots.push({ id, keep: `Cinder cannot be reached: ${volumes?.message}` });
        continue;
      }
      const reason = whyKeep(id, await volumes.getSnapshot(id), image, { projectId, owner, volumeById, madeFrom, namedBy });
      volumeSnapshots.push({ id, ...(reason ? { keep: reason } : {}) });
    }
    planned.push({ image, volumeSnapshots });
  }
  return { planned, held };
}

/** Every server of the project: what the candidates are checked against (a server booted from one). */
export async function listServers(cloud: Cloud, signal?: AbortSignal): Promise<Server[]> {
  const servers: Server[] = [];
  const compute = await cloud.compute();
  signal?.throwIfAborted();
  for await (const server of compute.servers({}, signal)) servers.push(server);
  return servers;
}
