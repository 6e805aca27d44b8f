import { Input, WAIT_CAPTURED } from '../lib/constants.ts';
import { DEFAULT_NAME_TEMPLATE, templateProblems } from '../lib/name-template.ts';
import type { StepKey } from '../lib/step-key.ts';
import type { CommonSettings } from './common.ts';
import { copyPlan, createCopyProblems, type CopyPlan } from './copy.ts';
import type { ModeRules, Retention } from './inputs.ts';
import type { Selection } from './selection.ts';
import { throwawayPlan, type VerifyPlan } from './verify.ts';

/**
 * What one snapshot of one server needs: each of create's, and the one restore takes before a
 * rebuild (snapshot-before). The login is there for stop-instance: a token login is not renewed.
 */
export interface SnapshotPlan extends Pick<CommonSettings, 'region' | 'credentials' | 'dryRun' | 'provenance'> {
  /** The name template (name-template.ts). */
  template: string;
  /** The template is the action's own (restore's snapshot-before), not snapshot-name: its `{instance}` part is shortened to fit. */
  fitName?: boolean;
  metadata: Record<string, string>;
  /** Stop the instance if it runs before its snapshot, and start it again as soon as its disk is captured. */
  stopInstance: boolean;
  wait: boolean;
  /** wait: captured: return once each disk is captured; the post step waits for `active` (and prunes). */
  captured?: boolean;
  /** The post step's wait for the uploads left running (upload-timeout). */
  uploadTimeoutMs?: number;
  /** This run, job and step (GITHUB_RUN_ID, GITHUB_JOB, GITHUB_ACTION): a re-run reuses the snapshot it already took. */
  step?: StepKey;
  timeoutMs: number;
  /** Prune the instance's snapshots under this policy once the new one is active. */
  retention?: Retention;
  /** verify: true: boot the new snapshot on a throwaway server once it is active (before the prune). */
  verify?: Pick<VerifyPlan, 'flavor' | 'networkId' | 'console'>;
  /** copy-to-region: copy the snapshot to these regions once it is active. */
  copy?: CopyPlan;
}

export interface CreateSettings extends CommonSettings, SnapshotPlan {
  mode: 'create';
  /** The servers to snapshot, each on its own (a fleet under one rate ceiling, `concurrency` (max-parallel) at a time). */
  servers: Selection;
  /** Servers snapshotted at once. */
  concurrency: number;
}

export const createRules: ModeRules<CreateSettings> = {
  check({ imageId, snapshotName, hasPolicy, wait, captured, verify, copyToRegion }, problems) {
    if (verify && (!wait || captured)) problems.push(`${Input.Verify}: boots the snapshot once it is active, so it needs wait: true`);
    problems.push(...createCopyProblems({ copyToRegion, wait, captured }));
    if (imageId) problems.push(`${Input.SnapshotId}: only for modes delete, restore, copy and verify; mode create makes a new snapshot`);
    problems.push(...templateProblems(snapshotName ?? DEFAULT_NAME_TEMPLATE).map((p) => `${Input.SnapshotName}: ${p}`));
    if (hasPolicy && !wait)
      problems.push(
        `${Input.Wait}: keep-* inputs prune only after the new snapshot is active, so they need wait: true (or ${WAIT_CAPTURED}: the post step prunes)`,
      );
  },
  settings: (
    {
      servers,
      concurrency,
      snapshotName,
      metadata,
      wait,
      captured,
      uploadTimeoutMs,
      step,
      timeoutMs,
      retention,
      verify,
      verifyFlavor,
      verifyNetwork,
      verifyConsole,
      copyToRegion,
    },
    stopInstance,
  ) => ({
    mode: 'create',
    servers,
    stopInstance,
    concurrency,
    template: snapshotName ?? DEFAULT_NAME_TEMPLATE,
    metadata,
    wait,
    ...(captured ? { captured, uploadTimeoutMs } : {}),
    ...(step ? { step } : {}),
    timeoutMs,
    ...(retention ? { retention } : {}),
    ...(verify ? { verify: throwawayPlan({ verifyFlavor, verifyNetwork, verifyConsole }) } : {}),
    ...(copyToRegion ? { copy: copyPlan({ copyToRegion, timeoutMs, retention }) } : {}),
  }),
};
