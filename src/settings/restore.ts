import { hasWildcard } from '../lib/glob.ts';
import type { CommonSettings } from './common.ts';
import { ID_AND_NAME, type ModeRules } from './inputs.ts';
import type { Selection } from './selection.ts';

export interface RestoreSettings extends CommonSettings {
  mode: 'restore';
  /** The servers to roll back (several: each from its own newest snapshot). */
  servers: Selection;
  /** Servers rebuilt at once. */
  concurrency: number;
  /** The snapshot: by ID, by exact name, or the instance's newest made by this action (of the names a glob matches). */
  snapshot: SnapshotChoice;
  /** Restore a snapshot of another instance (refused by default). */
  allowOtherInstance: boolean;
  /** Snapshot the server as it is before rebuilding it, so the roll-back can be undone. */
  snapshotBefore: boolean;
  timeoutMs: number;
}

export type SnapshotChoice = { imageId: string } | { name: string } | { newest: true; nameGlob?: string };

/** snapshot-id, else snapshot-name exactly, else the newest (of the names a glob matches): restore's and verify's choice. */
export const snapshotChoice = (imageId: string | undefined, snapshotName: string | undefined): SnapshotChoice =>
  imageId
    ? { imageId }
    : snapshotName && !hasWildcard(snapshotName)
      ? { name: snapshotName }
      : { newest: true, ...(snapshotName ? { nameGlob: snapshotName } : {}) };

export const restoreRules: ModeRules<RestoreSettings> = {
  check({ imageId, snapshotName, hasPolicy }, problems) {
    if (imageId && snapshotName) problems.push(ID_AND_NAME);
    if (hasPolicy) problems.push(`keep-*: retention inputs are for modes prune and create; mode restore deletes nothing`);
  },
  settings: ({ servers, concurrency, imageId, snapshotName, allowOtherInstance, snapshotBefore, timeoutMs }) => ({
    mode: 'restore',
    servers,
    concurrency,
    snapshot: snapshotChoice(imageId, snapshotName),
    allowOtherInstance,
    snapshotBefore,
    timeoutMs,
  }),
};
