import { Input } from '../lib/constants.ts';
import type { CommonSettings } from './common.ts';
import { validated, type ModeRules, type Retention } from './inputs.ts';

/** What a prune covers, and how: mode prune's, and the one create makes of each server's snapshots (keep-*). */
export interface PruneScope {
  /** Only this instance's snapshots (its name or ID). */
  instance?: string;
  /** Only names matching this glob. */
  nameGlob?: string;
  retention: Retention;
  /** Delete nothing: say what would be deleted. */
  dryRun: boolean;
}

export interface PruneSettings extends CommonSettings, PruneScope {
  mode: 'prune';
}

export const pruneRules: ModeRules<PruneSettings> = {
  check({ hasPolicy, imageId }, problems) {
    if (!hasPolicy) {
      problems.push(
        `keep-last, keep-within, keep-hourly, keep-daily, keep-weekly, keep-monthly, keep-yearly: mode prune needs at least one (no policy would delete everything)`,
      );
    }
    if (imageId) problems.push(`${Input.SnapshotId}: only for modes delete, restore, copy and verify; prune selects by instance and snapshot-name`);
  },
  settings: ({ instance, snapshotName, retention }) => ({ mode: 'prune', instance, nameGlob: snapshotName, retention: validated(retention) }),
};
