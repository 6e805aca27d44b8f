import pMap from 'p-map';
import type { Cancellation } from './cancel.ts';
import { Input } from '../lib/constants.ts';
import { log, t, within } from '../lib/log.ts';
import type { Cloud } from '../openstack/cloud.ts';
import type { Server } from '../openstack/compute.ts';
import type { Selection } from '../settings/selection.ts';
import { asFailure, StepError, type Outcome } from './outcome.ts';
import { isSingle, selectServers } from './servers.ts';

/** One server of a fleet: what its run gave. */
export interface FleetItem<R = unknown> {
  server: Server;
  result?: R;
  failure?: StepError;
}

/** Several servers done in one step. */
export interface FleetResult<R = unknown> {
  mode: 'fleet';
  of: 'create' | 'restore' | 'verify';
  items: FleetItem<R>[];
}

/**
 * Run `each` for the servers the settings select: one server named once is a step of its own
 * (its result is the mode's); several are a fleet. `inFleet` says which. Once `cancel` is set,
 * no further server is begun.
 */
export async function forSelection<R>(
  cloud: Cloud,
  settings: { servers: Selection; concurrency: number; region: string },
  of: FleetResult['of'],
  each: (server: Server, inFleet: boolean) => Promise<Outcome<R>>,
  cancel?: Cancellation,
): Promise<Outcome<R | FleetResult<R>>> {
  const servers = await selectServers(await cloud.compute(), settings.servers, await cloud.projectId());
  const [only] = servers;
  if (only && isSingle(settings.servers)) return each(only, false);
  if (!servers.length) log.notice(t`No instance matches the selection: nothing to ${of === 'create' ? 'snapshot' : of} (${Input.AllowEmptySelection})`);
  return forEachServer(of, servers, settings, (server) => each(server, true), cancel);
}

/**
 * Run `each` for every server, `concurrency` (max-parallel) at a time (the client holds the rate ceiling for all
 * of them). One server's failure does not stop the others: the step fails at the end, naming each.
 */
async function forEachServer<R>(
  of: FleetResult['of'],
  servers: readonly Server[],
  options: { concurrency: number; region: string },
  each: (server: Server) => Promise<Outcome<R>>,
  cancel?: Cancellation,
): Promise<Outcome<FleetResult<R>>> {
  log.info(t`${servers.length} instance(s): ${servers.map((server) => server.name).join(', ')}; ${Math.min(options.concurrency, servers.length)} at a time`);
  // Many lines per instance, interleaved: folded in the log (the warnings still show as annotations).
  const items = await log.group(t`${of === 'create' ? 'Snapshots' : of === 'verify' ? 'Verifies' : 'Restores'} of ${servers.length} instance(s)`, () =>
    pMap(
      servers,
      (server) =>
        within(server.name, async (): Promise<FleetItem<R>> => {
          let outcome: Outcome<R>;
          try {
            cancel?.check(t`instance ${server.name} was ${of === 'create' ? 'snapshotted' : of === 'verify' ? 'verified' : 'restored'}: it was not touched`);
            outcome = await each(server);
          } catch (error) {
            outcome = { failure: asFailure(error, options) };
          }
          if (outcome.failure) log.warning(t`${outcome.failure.message}`);
          return { server, ...outcome };
        }),
      { concurrency: options.concurrency },
    ),
  );
  const failed = items.filter((item) => item.failure);
  const result: FleetResult<R> = { mode: 'fleet', of, items };
  if (!failed.length) return { result };
  return {
    result,
    failure: new StepError(
      `${failed.length} of ${items.length} instance(s) failed: ${failed.map((item) => `${item.server.name}: ${item.failure?.message}`).join('; ')}`,
    ),
  };
}
