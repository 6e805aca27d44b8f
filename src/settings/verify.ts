import type { CommonSettings } from './common.ts';
import { ID_AND_NAME, type Inputs, type ModeRules } from './inputs.ts';
import { snapshotChoice, type SnapshotChoice } from './restore.ts';
import type { Selection } from './selection.ts';

/** How a throwaway server is booted from a snapshot, and what it must show: mode verify's, and create's with verify: true. */
export interface VerifyPlan extends Pick<CommonSettings, 'region' | 'dryRun' | 'provenance'> {
  /** verify-flavor (a name or an ID); else the flavor of the instance the snapshot is of. */
  flavor?: string;
  /** verify-network (an ID); else no network at all. */
  networkId?: string;
  /** verify-console: must appear in the console log, where the cloud serves one. */
  console?: RegExp;
  /** Until the throwaway is ACTIVE (and its console matched); its deletion has its own time. */
  timeoutMs: number;
}

export interface VerifySettings extends CommonSettings, VerifyPlan {
  mode: 'verify';
  /** The servers whose snapshot is verified (as restore selects them). */
  servers: Selection;
  concurrency: number;
  /** As restore chooses: by ID, by exact name, or the instance's newest made by this action. */
  snapshot: SnapshotChoice;
  /** Never set: verify chooses as restore does, of the instance's own snapshots. */
  allowOtherInstance: false;
}

/** What verify-flavor, verify-network and verify-console ask of the throwaway (mode verify's, and create's with verify: true). */
export const throwawayPlan = ({ verifyFlavor, verifyNetwork, verifyConsole }: Pick<Inputs, 'verifyFlavor' | 'verifyNetwork' | 'verifyConsole'>) => ({
  ...(verifyFlavor ? { flavor: verifyFlavor } : {}),
  ...(verifyNetwork ? { networkId: verifyNetwork } : {}),
  ...(verifyConsole ? { console: verifyConsole } : {}),
});

export const verifyRules: ModeRules<VerifySettings> = {
  check({ imageId, snapshotName, hasPolicy }, problems) {
    if (imageId && snapshotName) problems.push(ID_AND_NAME);
    if (hasPolicy) problems.push(`keep-*: retention inputs are for modes prune and create; mode verify deletes no snapshot`);
  },
  settings: (inputs) => ({
    mode: 'verify',
    servers: inputs.servers,
    concurrency: inputs.concurrency,
    snapshot: snapshotChoice(inputs.imageId, inputs.snapshotName),
    allowOtherInstance: false,
    timeoutMs: inputs.timeoutMs,
    ...throwawayPlan(inputs),
  }),
};
