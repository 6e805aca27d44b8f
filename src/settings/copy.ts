import { Input, WAIT_CAPTURED } from '../lib/constants.ts';
import type { CommonSettings } from './common.ts';
import { ID_AND_NAME, type Inputs, type ModeRules, type Retention } from './inputs.ts';
import { hasSelector, type Selection } from './selection.ts';

/** Copies of a snapshot in other regions: mode copy's, and create's with copy-to-region. */
export interface CopyPlan {
  /** The target regions, in the order given (each once, none the source region). */
  regions: string[];
  /** Prune each region's copies of the instance under this policy once a copy is active (keep-*). */
  retention?: Retention;
  /** Each copy's own time limit (timeout). */
  timeoutMs: number;
}

export interface CopySettings extends CommonSettings {
  mode: 'copy';
  copy: CopyPlan;
  /** The snapshot to copy: by ID, or each selected instance's newest made by this action (of the names a glob matches). */
  source: { imageId: string } | { servers: Selection; nameGlob?: string };
  /** Instances whose snapshots are copied at once. */
  concurrency: number;
}

/** A copy into the region the snapshot is in would be a second image of the same data there. */
export function copyRegionProblems(regions: readonly string[] | undefined, source: string | undefined): string[] {
  const same = source ? regions?.filter((region) => region.toLowerCase() === source.toLowerCase()) : undefined;
  return same?.length
    ? [`${Input.CopyToRegion}: ${same.join(', ')} is the region the snapshot is in (${Input.Region}); give only other regions to copy it to`]
    : [];
}

/** copy-to-region's plan: mode copy's, and create's. */
export const copyPlan = ({ copyToRegion, timeoutMs, retention }: Pick<Inputs, 'copyToRegion' | 'timeoutMs' | 'retention'>): CopyPlan => ({
  regions: copyToRegion ?? [],
  timeoutMs,
  ...(retention ? { retention } : {}),
});

export const copyRules: ModeRules<CopySettings> = {
  check({ imageId, snapshotName, servers, copyToRegion, instance }, problems) {
    // Given but blank is its own problem (regions.ts).
    if (!copyToRegion && !process.env[`INPUT_${Input.CopyToRegion.toUpperCase()}`]?.length)
      problems.push(`${Input.CopyToRegion}: required for mode copy: the regions to copy the snapshot to, one a line (e.g. SBG5)`);
    if (imageId && snapshotName) problems.push(ID_AND_NAME);
    const given = servers.names.length > 0 || hasSelector(servers);
    if (imageId && (given || instance))
      problems.push(
        `${Input.SnapshotId} and ${Input.Instance} / ${Input.InstanceTags} / ${Input.InstanceMetadata}: give the snapshot's ID, or the instances whose newest snapshot to copy, not both`,
      );
    if (!imageId && !given && !process.env[`INPUT_${Input.Instance.toUpperCase()}`]?.length)
      problems.push(
        `${Input.SnapshotId} or ${Input.Instance}: mode copy needs the snapshot's ID, or the instances (${Input.Instance}, ${Input.InstanceTags}, ${Input.InstanceMetadata}) whose newest snapshot made by this action to copy`,
      );
  },
  settings: (inputs) => ({
    mode: 'copy',
    copy: copyPlan(inputs),
    source: inputs.imageId ? { imageId: inputs.imageId } : { servers: inputs.servers, ...(inputs.snapshotName ? { nameGlob: inputs.snapshotName } : {}) },
    concurrency: inputs.concurrency,
  }),
};

/** create with copy-to-region: the copies are made once the snapshot is active, so the step waits for it. */
export function createCopyProblems({ copyToRegion, wait, captured }: { copyToRegion?: string[]; wait: boolean; captured: boolean }): string[] {
  if (!copyToRegion || (wait && !captured)) return [];
  return [
    `${Input.Wait}: ${Input.CopyToRegion} copies the snapshot once it is active, so it needs wait: true (not false${captured ? `, nor ${WAIT_CAPTURED}` : ''})`,
  ];
}
