import type { Cancellation } from './cancel.ts';
import type { Cloud } from '../openstack/cloud.ts';
import type { Settings } from '../settings/settings.ts';
import { copyMode, type CopyResult } from './copy/copy.ts';
import { create, type CreateResult } from './create/create.ts';
import { deleteMode, type DeleteResult } from './delete/delete.ts';
import type { FleetResult } from './fleet.ts';
import { asFailure, type Outcome } from './outcome.ts';
import { prune, type PruneResult } from './prune/prune.ts';
import { restore, type RestoreResult } from './restore/restore.ts';
import { verify, type VerifyResult } from './verify/verify.ts';

export type Result =
  CreateResult | DeleteResult | PruneResult | RestoreResult | VerifyResult | FleetResult<CreateResult | RestoreResult> | FleetResult<VerifyResult> | CopyResult;

/** The mode the settings name, run to one outcome: a failure thrown on the way is its failure. A create, a verify and a copy honour `cancel`. */
export async function runMode(cloud: Cloud, settings: Settings, cancel?: Cancellation): Promise<Outcome<Result>> {
  try {
    if (settings.mode === 'create') return await create(cloud, settings, cancel);
    if (settings.mode === 'delete') return await deleteMode(cloud, settings);
    if (settings.mode === 'restore') return await restore(cloud, settings);
    if (settings.mode === 'verify') return await verify(cloud, settings, cancel);
    if (settings.mode === 'copy') return await copyMode(cloud, settings, cancel);
    return await prune(cloud, settings);
  } catch (error) {
    return { failure: asFailure(error, settings) };
  }
}
