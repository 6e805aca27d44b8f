import type { Cloud } from '../openstack/cloud.ts';
import type { Settings } from '../settings.ts';
import { create, type CreateResult } from './create.ts';
import { deleteMode, type DeleteResult } from './delete.ts';
import type { FleetResult } from './fleet.ts';
import { explain, type Outcome } from './outcome.ts';
import { prune, type PruneResult } from './prune.ts';
import { restore, type RestoreResult } from './restore.ts';

export type Result = CreateResult | DeleteResult | PruneResult | RestoreResult | FleetResult;

/** The mode the settings name, run to one outcome: a failure thrown on the way, worded, is one too. */
export async function runMode(cloud: Cloud, settings: Settings): Promise<Outcome<Result>> {
  try {
    if (settings.mode === 'create') return await create(cloud, settings);
    if (settings.mode === 'delete') return await deleteMode(cloud, settings);
    if (settings.mode === 'restore') return await restore(cloud, settings);
    return await prune(cloud, settings);
  } catch (error) {
    return { failure: { message: explain(error, settings) } };
  }
}
