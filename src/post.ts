import * as core from '@actions/core';
import { Input } from './lib/constants.ts';
import { log, t } from './lib/log.ts';
import { openCloud } from './connect.ts';
import { finishUploads, type PostResult } from './modes/post/finish.ts';
import { explain, StepError, type Outcome } from './modes/outcome.ts';
import { decodePending, PENDING_STATE, type Pending } from './modes/post/pending.ts';
import { reportPost } from './report.ts';
import { loadSettings, type Settings } from './settings/settings.ts';

/**
 * The post step (runs.post), at the end of the job: finish what the main step left running
 * (wait: captured), from GITHUB_STATE (IDs only: it logs in again), report it, and fail the job
 * when an upload failed.
 */
export async function post(): Promise<void> {
  let pending: Pending[];
  try {
    pending = decodePending(core.getState(PENDING_STATE));
  } catch (error) {
    log.fail(t`Post step: ${error}`);
    return;
  }
  if (!pending.length) {
    log.info(t`Post step: no snapshot was left uploading (${Input.Wait}: captured): nothing to do`);
    return;
  }
  // The main step read these inputs without a problem: they are the same now.
  let settings: Settings;
  try {
    settings = await loadSettings();
  } catch (error) {
    log.fail(t`Post step: ${error}`);
    return;
  }
  if (settings.mode !== 'create') {
    log.fail(t`Post step: snapshots were left uploading, but the mode is ${settings.mode}`);
    return;
  }
  const cloud = openCloud(settings);
  const outcome: Outcome<PostResult> = await finishUploads(cloud, settings, pending).catch((error: unknown) => ({
    failure: new StepError(explain(error, settings)),
  }));
  await reportPost(outcome, cloud.requests).catch((error: unknown) => log.warning(t`The job summary could not be written: ${error}`));
  if (outcome.failure) log.fail(t`${outcome.failure.message}`);
  else log.info(t`Post step done with ${cloud.requests} API requests`);
}
