import { Input } from '../lib/constants.ts';
import type { CommonSettings } from './common.ts';
import { ID_AND_NAME, validated, type ModeRules } from './inputs.ts';

export interface DeleteSettings extends CommonSettings {
  mode: 'delete';
  /** The image's ID, or its exact name. */
  target: { imageId: string } | { name: string };
  /** Only this instance's snapshots. */
  instance?: string;
  ignoreMissing: boolean;
  /** Delete an image that a server or volume still uses. */
  deleteInUse: boolean;
}

export const deleteRules: ModeRules<DeleteSettings> = {
  check({ imageId, snapshotName, hasPolicy }, problems) {
    if (!imageId && !snapshotName)
      problems.push(`${Input.SnapshotId} or ${Input.SnapshotName}: mode delete needs the ID or the exact name of the snapshot to delete`);
    if (imageId && snapshotName) problems.push(ID_AND_NAME);
    if (hasPolicy) problems.push(`keep-*: retention inputs are for modes prune and create; mode delete deletes one snapshot`);
  },
  settings: ({ imageId, snapshotName, instance, ignoreMissing, deleteInUse }) => ({
    mode: 'delete',
    target: imageId ? { imageId } : { name: validated(snapshotName) },
    instance,
    ignoreMissing,
    deleteInUse,
  }),
};
