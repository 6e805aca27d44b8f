import pMap from 'p-map';
import { MANAGED_BY, Property } from '../../lib/constants.ts';
import { globToRegExp, hasWildcard } from '../../lib/glob.ts';
import type { Cloud } from '../../openstack/cloud.ts';
import type { Server } from '../../openstack/compute.ts';
import { exactNameFilter, type Image } from '../../openstack/image.ts';
import { decideEach, describePolicy, type Decision, type Snapshot } from '../../lib/retention.ts';
import type { Retention } from '../../settings/inputs.ts';
import type { PruneScope } from '../../settings/prune.ts';
import { log, t } from '../../lib/log.ts';
import { deleteSnapshot, type Deletion } from '../delete/deletion.ts';
import { Refusal, StepError, type Outcome } from '../outcome.ts';
import { plan, refusal, resolveInstance, type Held } from '../delete/guard.ts';
import { beforeRestoreOf, instancesOf, isVerified, MARKS, type Marked } from '../snapshots.ts';

export interface PruneResult {
  mode: 'prune';
  policy: string;
  dryRun: boolean;
  /** Every active image in scope, newest first, with what the policy said of it. */
  decisions: Decision[];
  images: Map<string, Marked>;
  deletions: Deletion[];
  /** Chosen by the policy but kept: in use, or not an image any run may delete. */
  held: Held[];
  /** Deletions that failed: the step fails for them, naming how many. */
  failures: { image: Marked; failure: StepError }[];
}

interface ScopeQuery {
  /** Glance's server-side filters. */
  query: Record<string, string>;
  /** What Glance cannot filter on, checked on each listed image. */
  accept?: (image: Marked) => boolean;
}

/**
 * The Glance queries whose union is the scope. Each is a server-side filter that can only
 * narrow: the owner is always this project, and only active images are listed (a snapshot
 * still being made belongs to a run in progress).
 */
async function scopeQueries(
  cloud: Cloud,
  server: Server | undefined,
  instanceId: string | undefined,
  options: Retention,
  exactName: string | undefined,
  copiedFrom?: string,
) {
  const base: Record<string, string> = {
    owner: await cloud.projectId(),
    status: 'active',
    sort: 'created_at:desc',
    ...(exactName ? exactNameFilter(exactName) : {}),
  };
  const copies: Record<string, string> = copiedFrom ? { [Property.CopiedFromRegion]: copiedFrom } : {};
  const queries: ScopeQuery[] = [
    { query: { ...base, [Property.ManagedBy]: MANAGED_BY, ...(instanceId ? { [Property.InstanceId]: instanceId } : {}), ...copies } },
  ];
  // The copies of an instance's snapshots: only those this action made, and marked so.
  if (!options.includeUnmanaged || copiedFrom) return queries;
  // Nova tags image-backed snapshots with their instance ...
  queries.push({ query: { ...base, image_type: 'snapshot', ...(instanceId ? { instance_uuid: instanceId } : {}) } });
  // ... but a volume-backed one only with its block device mapping: it is the instance's when its
  // Cinder snapshots are of the instance's volumes.
  if (!instanceId) queries.push({ query: { ...base, bdm_v2: 'True' } });
  else if (server?.volumeIds.length) {
    const ofInstance = await (await cloud.volumes()).snapshotIdsOf(server.volumeIds);
    queries.push({ query: { ...base, bdm_v2: 'True' }, accept: (image) => image.volumeSnapshotIds.some((id) => ofInstance.has(id)) });
  }
  return queries;
}

/**
 * The image meets every filter of the query, checked here too: a cloud that ignored one must not
 * widen the scope. The listing kept the query's attributes and properties for it.
 */
function matchesQuery(image: Image<string>, query: Record<string, string>): boolean {
  return Object.entries(query).every(([key, value]) => key === 'sort' || String(image.properties[key]) === value);
}

/**
 * The snapshots in scope by instance, for the policy to apply to each on its own: all of them when
 * the scope is one instance's, else by the instances each records (those that record none, such as
 * volume-backed snapshots taken by hand, are one group).
 */
function byInstance(images: Iterable<Marked>, instanceId: string | undefined): Snapshot[][] {
  const groups = new Map<string, Snapshot[]>();
  for (const image of images) {
    const key = instanceId ?? instancesOf(image).sort().join(' ');
    const snapshot = { id: image.id, name: image.name ?? '', createdAt: image.createdAt, protected: image.protected, verified: isVerified(image) };
    // Added in place: a copy per snapshot costs quadratic time and memory over thousands of one instance's.
    const group = groups.get(key);
    if (group) group.push(snapshot);
    else groups.set(key, [snapshot]);
  }
  return [...groups.values()];
}

/** A prune: mode prune's scope, or the instance and names a create just snapshotted. */
interface Prune extends PruneScope {
  /** create's own prune: the server it found, and the snapshot it made (which must be among those listed). */
  server?: Server;
  justCreated?: string;
  /** Leave out the snapshots restore took before a rebuild (create's own prune: they are not the template's, whatever their name). */
  withoutBackups?: boolean;
  /** A region's copies of one instance's snapshots (copy-to-region with keep-*): the instance (in the source region) and that region. */
  copiesOf?: { instanceId: string; region: string };
}

/**
 * Apply the retention policy to the snapshots in scope and delete the rest (bounded concurrency;
 * the client holds the request-rate ceiling).
 */
export async function prune(cloud: Cloud, settings: Prune): Promise<Outcome<PruneResult>> {
  const { retention: options, server, justCreated } = settings;
  const images = await cloud.images();
  const { copiesOf } = settings;
  const instance = server ? { server, id: server.id } : copiesOf ? { id: copiesOf.instanceId } : await resolveInstance(cloud, settings, 'pruning');
  const glob = settings.nameGlob;
  const exactName = glob && !hasWildcard(glob) ? glob : undefined;
  const matcher = glob ? globToRegExp(glob) : undefined;

  const inScope = new Map<string, Marked>();
  const backups = new Set<string>();
  for (const { query, accept } of await scopeQueries(
    cloud,
    'server' in instance ? instance.server : undefined,
    instance.id,
    options,
    exactName,
    copiesOf?.region,
  )) {
    for await (const image of images.list(query, [...MARKS, ...Object.keys(query)])) {
      if (!(matchesQuery(image, query) && (!accept || accept(image)) && image.name !== null && (!matcher || matcher.test(image.name)))) continue;
      if (settings.withoutBackups && beforeRestoreOf(image)) backups.add(image.id);
      else inScope.set(image.id, image);
    }
  }
  if (backups.size)
    log.info(t`Left out of this prune: ${backups.size} snapshot(s) taken before a restore (${[...backups].join(', ')}); they are neither counted nor deleted`);
  const policy = describePolicy(options.policy);
  const result: PruneResult = { mode: 'prune', policy, dryRun: settings.dryRun, decisions: [], images: inScope, deletions: [], held: [], failures: [] };
  if (justCreated && !inScope.has(justCreated)) {
    log.warning(t`The new snapshot ${justCreated} is not among the snapshots listed for pruning; pruning is skipped so nothing is deleted in its place`);
    return { result, failure: new Refusal('the new snapshot was not listed') };
  }

  result.decisions = decideEach(byInstance(inScope.values(), instance.id), options.policy, new Date());
  const chosen = result.decisions.filter((d) => !d.keep).map((d) => inScope.get(d.snapshot.id)!);
  // The listing's filters can be fooled by anyone's properties: every image is checked again on its own.
  const projectId = await cloud.projectId();
  const refused = chosen.flatMap((image) => {
    const other = instance.id && instancesOf(image).find((id) => id !== instance.id);
    const reason = other ? `it also records instance ${other}` : refusal(image, projectId);
    return reason ? [{ image, reason }] : [];
  });
  const refusedIds = new Set(refused.map((r) => r.image.id));
  const { planned, held } = await plan(
    cloud,
    chosen.filter((image) => !refusedIds.has(image.id)),
    { instanceId: instance.id },
  );
  result.held = [...refused, ...held];
  for (const { image, reason } of result.held) log.info(t`Keeping ${image.id} "${image.name ?? ''}": ${reason}`);
  const alsoKept = result.held.length ? `; ${result.held.length} more that it would delete are kept (in use, or not deletable)` : '';
  log.info(t`${inScope.size} snapshot(s) in scope; policy ${policy} keeps ${result.decisions.length - chosen.length} and deletes ${planned.length}${alsoKept}`);

  if (planned.length > options.maxDeletes) {
    const why = `the policy would delete ${planned.length} snapshots, more than max-deletes (${options.maxDeletes}); nothing was deleted. Check the policy and scope (try dry-run: true), then raise max-deletes if it is right`;
    return { result, failure: new Refusal(why) };
  }
  const deleteEach = () =>
    pMap(
      planned,
      async (item) => {
        try {
          result.deletions.push(await deleteSnapshot(cloud, item, settings.dryRun));
        } catch (error) {
          const failure =
            error instanceof StepError
              ? error
              : new StepError(`deleting snapshot ${item.image.id} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
          log.warning(t`${failure.message}`);
          result.failures.push({ image: item.image, failure });
        }
      },
      { concurrency: options.concurrency },
    );
  // A line or more per snapshot: folded in the log.
  if (planned.length) await log.group(t`${settings.dryRun ? 'Would delete' : 'Deleting'} ${planned.length} snapshot(s)`, deleteEach);
  if (settings.dryRun)
    log.notice(t`Dry run: ${planned.length} snapshot(s) would be deleted, ${result.decisions.length - planned.length} kept`, {
      title: 'openstack-snapshot-action',
    });
  if (!result.failures.length) return { result };
  return { result, failure: new StepError(`${result.failures.length} snapshot(s) could not be deleted; see the warnings above`) };
}
