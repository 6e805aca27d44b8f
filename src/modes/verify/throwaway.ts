import { randomUUID } from 'node:crypto';
import { MANAGED_BY, Property, VERIFY_PREFIX } from '../../lib/constants.ts';
import { formatDuration } from '../../lib/duration.ts';
import { log, t } from '../../lib/log.ts';
import { CUT_SHORT, poll, type Deadline } from '../../lib/wait.ts';
import type { Cloud } from '../../openstack/cloud.ts';
import type { Compute, Server } from '../../openstack/compute.ts';
import { CatalogError, statusOf } from '../../openstack/errors.ts';
import type { VolumeService } from '../../openstack/volume.ts';
import { StepError } from '../outcome.ts';

/** Cinder's states of a volume still attached or on its way out: waited for before the delete. */
const BUSY_VOLUME = new Set(['in-use', 'attaching', 'detaching', 'reserved', 'creating', 'downloading', 'deleting', 'maintenance']);

/** What a throwaway server of a verify is: its ID, and the volumes Nova made for it (seen attached, tagged as the action's). */
export interface Throwaway {
  id: string;
  volumeIds: Set<string>;
  /** The marks it carries (and its volumes are given). */
  marks: Record<string, string>;
}

/** The marks of a throwaway: the action's, the snapshot it boots, the instance it verifies, the run that made it. */
export function throwawayMarks(imageId: string, instanceId: string, runId: string | undefined): Record<string, string> {
  return {
    [Property.ManagedBy]: MANAGED_BY,
    [Property.VerifyRequest]: randomUUID(),
    [Property.VerifyOf]: imageId,
    [Property.VerifyInstance]: instanceId,
    ...(runId ? { [Property.VerifyRun]: runId.slice(0, 255) } : {}),
  };
}

export const throwawayName = (imageId: string) => `${VERIFY_PREFIX}${imageId}`;

/** Cinder, where the region has it (a region without it has no volume to leave behind). */
export async function volumesOf(cloud: Cloud): Promise<VolumeService | undefined> {
  try {
    return await cloud.volumes();
  } catch (error) {
    if (error instanceof CatalogError) return undefined;
    throw error;
  }
}

/** The volumes attached to the throwaway, tagged as the action's the first time they are seen (a killed run's are then found by the next). */
export async function noteVolumes(volumes: VolumeService | undefined, throwaway: Throwaway, server: Server): Promise<void> {
  for (const id of server.volumeIds) {
    if (throwaway.volumeIds.has(id) || !volumes) continue;
    await volumes.tagVolume(id, throwaway.marks);
    throwaway.volumeIds.add(id);
    log.info(t`Volume ${id} was made for throwaway server ${throwaway.id}: it is deleted with it`);
  }
}

/**
 * Delete the throwaway server and wait until Nova no longer has it, then its volumes (once Cinder
 * has them detached), and wait until they are gone. Returns what is left, if anything, in words with the commands to remove it.
 */
export async function removeThrowaway(
  compute: Compute,
  volumes: VolumeService | undefined,
  throwaway: Throwaway,
  deadline: Deadline,
): Promise<string | undefined> {
  const left: string[] = [];
  try {
    // Its volumes as they are now, tagged before the server goes (a run killed after the delete leaves them findable).
    const now = await compute.getServer(throwaway.id);
    if (now) await noteVolumes(volumes, throwaway, now);
    if (now && (await compute.deleteServer(throwaway.id)) === 'deleted') log.info(t`Deleting throwaway server ${throwaway.id}`);
    const gone = await poll(async () => {
      const look = await deadline.look((signal) => compute.getServer(throwaway.id, signal));
      return { done: look !== CUT_SHORT && (!look || look.status === 'DELETED' || look.status === 'SOFT_DELETED'), value: undefined };
    }, deadline);
    if (!gone.done) left.push(`server ${throwaway.id} (openstack server delete --wait ${throwaway.id})`);
    else log.info(t`Throwaway server ${throwaway.id} is gone`);
  } catch (error) {
    left.push(`server ${throwaway.id} (${error instanceof Error ? error.message : String(error)}; openstack server delete --wait ${throwaway.id})`);
  }
  if (volumes)
    for (const id of throwaway.volumeIds) if (!(await removeVolume(volumes, id, deadline))) left.push(`volume ${id} (openstack volume delete ${id})`);
  return left.length ? `left behind: ${left.join(', ')}` : undefined;
}

/** Delete a volume once Cinder lets it (detached), and wait until it is gone: false if it is still there at the deadline. */
async function removeVolume(volumes: VolumeService, id: string, deadline: Deadline): Promise<boolean> {
  let asked = false;
  const outcome = await poll(async () => {
    const look = await deadline.look((signal) => volumes.getVolume(id, signal));
    if (look === CUT_SHORT) return { done: false, value: undefined };
    if (!look) return { done: true, value: undefined };
    if (!asked && !BUSY_VOLUME.has(look.status ?? '') && !look.serverIds.length) {
      try {
        await volumes.deleteVolume(id);
        asked = true;
        log.info(t`Deleting volume ${id}`);
      } catch (error) {
        // 400: Cinder still holds it (an attachment on its way out): looked at again.
        if (statusOf(error) !== 400) throw error;
      }
    }
    return { done: false, value: undefined };
  }, deadline).catch((error: unknown) => {
    log.warning(t`Volume ${id}: ${error}`);
    return { done: false };
  });
  if (outcome.done) log.info(t`Volume ${id} is gone`);
  return outcome.done;
}

/**
 * What a killed verify of this instance left: throwaway servers and their volumes that carry the
 * action's marks for this instance, made by this same workflow run (an earlier attempt or step,
 * which ended before this one began) or older than `staleMs` (its verify has timed out long since).
 * A throwaway of another instance, or a younger one of another run, is never touched.
 */
export async function sweep(
  compute: Compute,
  volumes: VolumeService | undefined,
  instance: Server,
  runId: string | undefined,
  staleMs: number,
  dryRun: boolean,
  deadline: Deadline,
): Promise<string[]> {
  const now = Date.now();
  const ours = (marks: Record<string, string>, createdAt: Date | undefined) =>
    marks[Property.ManagedBy] === MANAGED_BY &&
    marks[Property.VerifyInstance] === instance.id &&
    typeof marks[Property.VerifyOf] === 'string' &&
    ((runId !== undefined && marks[Property.VerifyRun] === runId) || (createdAt !== undefined && now - createdAt.getTime() > staleMs));
  const swept: string[] = [];
  const servers: Server[] = [];
  for await (const server of compute.servers({ name: VERIFY_PREFIX.replace(/-$/, '') })) if (server.name.startsWith(VERIFY_PREFIX)) servers.push(server);
  const leftovers = servers.filter((server) => ours(server.metadata, server.createdAt));
  const strayVolumes = volumes
    ? (await volumes.volumes()).filter((volume) => !volume.serverIds.length && ours(volume.metadata ?? {}, volume.createdAt)).map((volume) => volume.id)
    : [];
  if (!leftovers.length && !strayVolumes.length) return swept;
  const names = [...leftovers.map((s) => `server ${s.id}`), ...strayVolumes.map((id) => `volume ${id}`)].join(', ');
  if (dryRun) {
    log.info(t`Dry run: would remove what an earlier verify of instance ${instance.name} left: ${names}`);
    return swept;
  }
  log.info(t`Removing what an earlier verify of instance ${instance.name} left: ${names}`);
  for (const server of leftovers) {
    const throwaway: Throwaway = { id: server.id, volumeIds: new Set(), marks: server.metadata };
    const left = await removeThrowaway(compute, volumes, throwaway, deadline);
    if (left) throw new StepError(`An earlier verify's throwaway server ${server.id} could not be removed (${formatDuration(deadline.budgetMs)}): ${left}`);
    swept.push(server.id, ...throwaway.volumeIds);
  }
  for (const id of volumes ? strayVolumes : []) {
    if (swept.includes(id) || !volumes) continue;
    if (!(await removeVolume(volumes, id, deadline)))
      throw new StepError(`An earlier verify's volume ${id} could not be removed: openstack volume delete ${id}`);
    swept.push(id);
  }
  return swept;
}
