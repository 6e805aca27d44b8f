import * as core from '@actions/core';
import { setGlobalProxyFromEnv } from 'node:http';
import { Output } from './constants.ts';
import { join, log, t } from './log.ts';
import { create, SnapshotError } from './modes/create.ts';
import { deleteMode } from './modes/delete.ts';
import { prune } from './modes/prune.ts';
import { Cloud } from './openstack/cloud.ts';
import { report, reportFailedSnapshot, type Result } from './report.ts';
import { readSettings, SettingsError } from './settings.ts';
import { PROXY_VARIABLES } from './urls.ts';

/** Read the inputs, run the mode, write the outputs: every failure becomes one clear error. */
export async function run(): Promise<void> {
  let cloud: Cloud | undefined;
  try {
    const settings = readSettings();
    // got has no proxy support of its own: Node 24's reads HTTP(S)_PROXY and NO_PROXY, as the runner does (checked by readSettings).
    if (PROXY_VARIABLES.some((name) => process.env[name])) setGlobalProxyFromEnv();
    cloud = new Cloud({
      credentials: settings.credentials,
      region: settings.region,
      iface: settings.iface,
      rateLimit: settings.rateLimit,
      log: { debug: log.debug },
      onToken: core.setSecret,
    });
    const who = settings.credentials.method === 'password' ? t`user ${settings.credentials.username}` : t`application credential ${settings.credentials.id}`;
    log.info(t`Mode ${settings.mode}${settings.dryRun ? ' (dry run: nothing will be changed)' : ''} in region ${settings.region}, as ${who} (${settings.credentials.authUrl})`);
    const result: Result =
      settings.mode === 'create' ? await create(cloud, settings) : settings.mode === 'delete' ? await deleteMode(cloud, settings) : await prune(cloud, settings);
    await report(result, cloud.requests);
    const pruned = result.mode === 'prune' ? result : result.mode === 'create' ? result.prune : undefined;
    if (result.mode === 'create' && result.pruneError) throw new Error(`Snapshot ${result.image.id} is active, but the prune after it failed: ${result.pruneError}`);
    if (pruned?.refused) throw new Error(`Prune refused: ${pruned.refused}`);
    if (pruned?.failures.length) throw new Error(`${pruned.failures.length} snapshot(s) could not be deleted; see the warnings above`);
    log.info(t`Done with ${cloud.requests} API requests`);
  } catch (error) {
    if (error instanceof SnapshotError) await reportFailedSnapshot(error.imageId, error.message).catch(() => undefined);
    if (cloud) log.output(Output.ApiRequests, String(cloud.requests));
    log.fail(error instanceof SettingsError ? join([t`Invalid input${error.problems.length > 1 ? 's' : ''}:`, ...error.problems.map((p) => t`- ${p}`)], '\n') : t`${error}`);
  }
}
