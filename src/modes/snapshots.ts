import { MANAGED_BY, Property } from '../lib/constants.ts';
import type { Image } from '../openstack/image.ts';

/**
 * The properties by which the action knows its snapshots, and the instance's name the prune
 * summary shows: what the modes ask Glance to keep of an image they judge.
 */
export const MARKS = [
  Property.ManagedBy,
  Property.InstanceId,
  Property.InstanceName,
  Property.BeforeRestoreOf,
  Property.VerifiedAt,
  Property.VerifyResult,
] as const;

/** An image read with the action's marks. */
export type Marked = Image<(typeof MARKS)[number]>;

/** This action made it (its managed_by property). */
export const isManaged = (image: Marked): boolean => image.properties[Property.ManagedBy] === MANAGED_BY;

/**
 * The instances the image says it is a snapshot of: this action's property and Nova's. Both are
 * anyone's to edit in the project, so an image is one instance's only when every one names it.
 */
export function instancesOf(image: Marked): string[] {
  const named = [image.properties[Property.InstanceId], image.instanceUuid];
  return [...new Set(named.filter((id): id is string => typeof id === 'string' && id !== ''))];
}

/** Restore took it of the server just before rebuilding it (snapshot-before): the image it then restored. */
export function beforeRestoreOf(image: Marked): string | null {
  const restored = image.properties[Property.BeforeRestoreOf];
  return typeof restored === 'string' && restored ? restored : null;
}

/**
 * A snapshot of an instance: Nova's mark on an image-backed one, the block device mapping of a
 * volume-backed one, or this action's mark. Anything else (an uploaded image) is not ours to delete.
 */
export const isInstanceSnapshot = (image: Marked): boolean =>
  image.imageType === 'snapshot' || isManaged(image) || (image.bdmV2 && image.volumeSnapshotIds.length > 0);

/** A verify booted it, the last time one ran: its verified_at, and no failure since. */
export const isVerified = (image: Marked): boolean =>
  typeof image.properties[Property.VerifiedAt] === 'string' && image.properties[Property.VerifyResult] === 'passed';
