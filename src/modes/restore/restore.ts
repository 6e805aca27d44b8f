import { Input, Property } from '../../lib/constants.ts';
import { log, t } from '../../lib/log.ts';
import type { Cloud } from '../../openstack/cloud.ts';
import type { Server } from '../../openstack/compute.ts';
import type { Image } from '../../openstack/image.ts';
import { Deadline } from '../../lib/wait.ts';
import type { SnapshotPlan } from '../../settings/create.ts';
import type { RestoreSettings } from '../../settings/restore.ts';
import { snapshotServer, type CreateResult } from '../create/create.ts';
import { forSelection, type FleetResult } from '../fleet.ts';
import { StepError, type Outcome } from '../outcome.ts';
import { busy, REBUILD, untilFree } from '../server-wait.ts';
import { chooseSnapshot, restoreRefusal } from './choose.ts';
import { rebuildOnce, untilRebuilt } from './rebuild.ts';
import { stillUploading, untilUploaded } from './uploading.ts';

export interface RestoreResult {
  mode: 'restore';
  /** Nothing was sent: `server` is as it was. */
  dryRun: boolean;
  /** The server as the rebuild left it. */
  server: Server;
  /** The snapshot it was rebuilt from. */
  image: Image;
  /** The image it ran before. */
  previousImageId?: string;
  /** The snapshot taken just before (snapshot-before). */
  backup?: CreateResult;
  /** From the rebuild request to the end of the wait. */
  durationMs: number;
}

const volumeBacked = (server: Server) =>
  new StepError(
    `Instance ${server.name} (${server.id}) is volume-backed: it is not rebuilt, and nothing was changed. Nova cannot restore a volume-backed instance from its snapshot safely ` +
      `(below microversion 2.93 it refuses; at 2.93, seen on Zed, the rebuild fails on the compute host and leaves the boot volume reserved until an admin resets it). ` +
      `To roll it back: create a volume from the Cinder snapshot (the volume-snapshot-ids output of mode create) and boot an instance from it, ` +
      `or, with the instance stopped and the volume detached, revert the volume to its latest snapshot: openstack volume revert <snapshot>`,
  );

/** The snapshot taken just before the rebuild, of the server as it is, tagged with what is being restored. */
function backupPlan({ region, credentials, dryRun, provenance }: RestoreSettings, image: Image, deadline: Deadline): SnapshotPlan {
  return {
    region,
    credentials,
    dryRun,
    provenance,
    stopInstance: false,
    template: '{instance}-before-restore-{timestamp}',
    fitName: true,
    metadata: { [Property.BeforeRestoreOf]: image.id },
    wait: true,
    timeoutMs: Math.max(0, deadline.at - Date.now()),
  };
}

/** Every server of the selection, each rolled back on its own (from its own newest snapshot when several). */
export async function restore(cloud: Cloud, settings: RestoreSettings): Promise<Outcome<RestoreResult | FleetResult<RestoreResult>>> {
  return forSelection(cloud, settings, 'restore', (server) => restoreServer(cloud, settings, server));
}

/**
 * Roll a server back to a snapshot: choose it (given, or the newest), refuse what must not be
 * restored, wait until the server is free, optionally snapshot it as it is, rebuild it once and
 * wait until it runs the snapshot.
 */
async function restoreServer(cloud: Cloud, settings: RestoreSettings, found: Server): Promise<Outcome<RestoreResult>> {
  const deadline = Deadline.after(settings.timeoutMs);
  const compute = await cloud.compute();
  let server = found;
  log.info(
    t`Instance: ${server.name} (${server.id}), ${server.status}${server.volumeBacked ? ', volume-backed' : t`, image ${server.imageId ?? 'unknown'}`}, region ${settings.region}`,
  );
  if (server.volumeBacked) throw volumeBacked(server);
  let image = await chooseSnapshot(cloud, settings, server);
  const projectId = await cloud.projectId();
  const uploading = stillUploading(image, server, projectId);
  // Judged as the active image it is about to be: waited for only once nothing else refuses it.
  const why = await restoreRefusal(compute, uploading ? { ...image, status: 'active' } : image, server, projectId, settings.allowOtherInstance);
  const refuse = (why: string) => new StepError(`Snapshot ${image.id} "${image.name ?? ''}" is not restored onto instance ${server.name}: ${why}`);
  if (why) throw refuse(why);
  const previousImageId = server.imageId;
  const result: RestoreResult = { mode: 'restore', dryRun: settings.dryRun, server, image, previousImageId, durationMs: 0 };
  if (uploading && settings.dryRun) log.info(t`Dry run: snapshot ${image.id} is still ${image.status}: would wait until it is active`);
  else if (uploading) {
    result.image = image = await untilUploaded(await cloud.images(), compute, image, server, deadline);
    // Its size is known now: the flavor's disk is checked against it.
    const late = await restoreRefusal(compute, image, server, projectId, settings.allowOtherInstance);
    if (late) throw refuse(late);
  }
  if (settings.dryRun) {
    // It refuses what the real run would (a state Nova cannot rebuild, or snapshot for snapshot-before), waiting for nothing.
    if (!busy(server)) server = await untilFree(compute, server, REBUILD, deadline);
    if (settings.snapshotBefore) await snapshotServer(cloud, backupPlan(settings, image, deadline), server);
    const first = settings.snapshotBefore ? ' after a snapshot of it as it is now' : '';
    log.info(
      t`Dry run: would rebuild instance ${server.name} (${server.id}) from snapshot ${image.id}${first}; it runs image ${previousImageId ?? 'unknown'} now`,
    );
    return { result };
  }
  server = await untilFree(compute, server, REBUILD, deadline);
  if (server.status === 'SHUTOFF') log.info(t`Instance ${server.name} is SHUTOFF: Nova rebuilds it and leaves it SHUTOFF`);
  if (settings.snapshotBefore) {
    const taken = await snapshotServer(cloud, backupPlan(settings, image, deadline), server);
    if (taken.failure || !taken.result) {
      return { failure: new StepError(`The snapshot before the restore failed, so instance ${server.name} was not rebuilt: ${taken.failure?.message}`) };
    }
    result.backup = taken.result;
    log.info(t`Snapshot of the instance as it was: ${taken.result.image.id} (${Input.SnapshotBefore})`);
  }
  const started = Date.now();
  server = await rebuildOnce(compute, server, image.id, deadline);
  log.info(t`Rebuild requested: instance ${server.name} from snapshot ${image.id} (Nova microversion ${compute.microversion})`);
  const rebuilt = await untilRebuilt(compute, server, image.id, deadline);
  Object.assign(result, { server: rebuilt.server, durationMs: Date.now() - started });
  if (rebuilt.failure) return { result, failure: rebuilt.failure };
  log.info(t`Instance ${server.name} is ${rebuilt.server.status} on snapshot ${image.id} again`);
  return { result };
}
