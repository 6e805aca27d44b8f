import * as core from '@actions/core';
import { Cancellation } from './modes/cancel.ts';
import { join, log, t } from './lib/log.ts';
import { runMode } from './modes/run.ts';
import { openCloud } from './connect.ts';
import { encodePending, PENDING_STATE, pendingOf } from './modes/post/pending.ts';
import { describeLogin } from './openstack/identity.ts';
import { report, reportInvalidInput } from './report.ts';
import { loadSettings, SettingsError, type Settings } from './settings/settings.ts';

/** A summary that cannot be written does not change how the step ends. */
const summarise = (writing: Promise<void>) => writing.catch((error: unknown) => log.warning(t`The job summary could not be written: ${error}`));

/** Read the inputs, run the mode, report its outcome, fail the step if it failed. */
export async function run(): Promise<void> {
  let settings: Settings;
  try {
    settings = await loadSettings();
  } catch (error) {
    const problems = error instanceof SettingsError ? error.problems : [error instanceof Error ? error.message : String(error)];
    await summarise(reportInvalidInput(problems));
    log.fail(
      error instanceof SettingsError ? join([t`Invalid input${problems.length > 1 ? 's' : ''}:`, ...problems.map((p) => t`- ${p}`)], '\n') : t`${error}`,
    );
    return;
  }
  const cloud = openCloud(settings);
  const who = t`${describeLogin(settings.credentials)}`;
  log.info(
    t`Mode ${settings.mode}${settings.dryRun ? ' (dry run: nothing will be changed)' : ''} in region ${settings.region}, as ${who} (${settings.credentials.authUrl})`,
  );
  // A create stops servers, a verify boots throwaway ones: they handle the runner's signals for the
  // whole run, to start them again (or delete them) when the job is cancelled. Any other mode ends at once on a signal, as Node does.
  const cancel = new Cancellation();
  // A copy too: a copy cut short deletes its partial image before the process ends.
  const unwatch = settings.mode === 'create' || settings.mode === 'verify' || settings.mode === 'copy' ? cancel.watchSignals() : undefined;
  try {
    const outcome = await runMode(cloud, settings, cancel);
    // wait: captured: what the post step is to finish, by ID (never a secret: GITHUB_STATE is a file on the runner).
    const pending = outcome.result?.mode === 'create' || outcome.result?.mode === 'fleet' ? pendingOf(outcome.result) : [];
    if (pending.length) core.saveState(PENDING_STATE, encodePending(pending));
    await summarise(report(outcome, cloud.requests, settings));
    if (outcome.failure) log.fail(t`${outcome.failure.message}`);
    else log.info(t`Done with ${cloud.requests} API requests`);
  } finally {
    unwatch?.();
  }
}
