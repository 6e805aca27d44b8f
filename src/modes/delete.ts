import * as core from '@actions/core';
import { Property } from '../constants.ts';
import type { Cloud } from '../openstack/cloud.ts';
import { ActionError } from '../openstack/errors.ts';
import { exactNameFilter, type Image } from '../openstack/image.ts';
import { poll } from '../openstack/wait.ts';
import type { Settings } from '../settings.ts';
import { deleteSnapshot, type Deletion } from './deletion.ts';

export interface DeleteResult {
  mode: 'delete';
  deletions: Deletion[];
  /** The image was already gone (by ID), or no image had the name and ignore-missing allowed it. */
  missing?: string;
}

/** The one image named exactly `name` in this project, optionally only the instance's snapshots. */
async function byName(cloud: Cloud, settings: Settings): Promise<Image | undefined> {
  const images = await cloud.images();
  const name = settings.snapshotName!;
  let matches = (await images.listAll({ ...exactNameFilter(name), owner: await cloud.projectId() })).filter((image) => image.name === name);
  if (settings.instance) {
    const server = await (await cloud.compute()).findServer(settings.instance, settings.region).catch(() => undefined);
    const ids = new Set([settings.instance, server?.id].filter(Boolean));
    matches = matches.filter((image) => ids.has(String(image[Property.InstanceId] ?? image.instance_uuid ?? '')));
  }
  if (matches.length > 1) {
    throw new ActionError(
      `${matches.length} images are named "${name}"${settings.instance ? ` for instance ${settings.instance}` : ''}: ` +
        `${matches.map((image) => `${image.id} (created ${image.created_at})`).join(', ')}. Set image-id to the one to delete`,
    );
  }
  return matches[0];
}

export async function deleteMode(cloud: Cloud, settings: Settings): Promise<DeleteResult> {
  const images = await cloud.images();
  const image = settings.imageId ? await images.get(settings.imageId) : await byName(cloud, settings);
  if (!image) {
    const what = settings.imageId ? `Image ${settings.imageId}` : `No image named "${settings.snapshotName}"${settings.instance ? ` for instance ${settings.instance}` : ''}`;
    if (settings.imageId) {
      core.notice(`${what} is already gone: nothing to delete`);
      return { mode: 'delete', deletions: [], missing: settings.imageId };
    }
    if (settings.ignoreMissing) {
      core.notice(`${what} in region ${settings.region}: nothing to delete (ignore-missing)`);
      return { mode: 'delete', deletions: [], missing: settings.snapshotName };
    }
    throw new ActionError(`${what} in region ${settings.region}. Check snapshot-name (matched exactly) and region, or set ignore-missing: true`);
  }
  if (image.protected) {
    throw new ActionError(
      `Image ${image.id} (${image.name}) is protected, so it is not deleted. Unprotect it first (openstack image set --unprotected ${image.id}) if it really should go`,
    );
  }
  const deletion = await deleteSnapshot(cloud, image, false);
  // Glance deletes at once; this confirms it (and waits where a store deletes later).
  const gone = await poll(async () => {
    const now = await images.get(image.id);
    return { done: !now || now.status === 'deleted' || now.status === 'pending_delete', value: now };
  }, Date.now() + settings.timeoutMs);
  if (!gone.done) throw new ActionError(`Image ${image.id} was deleted but is still listed as ${gone.last?.status}; check it with: openstack image show ${image.id}`);
  return { mode: 'delete', deletions: [deletion] };
}
