// The FAULT MATRIX: every scenario of fault-scenarios.ts, run by one loop. The scenarios are dealt
// round-robin to a few lanes; each lane is a describe with its own local cloud (faults are armed
// cloud-wide) and runs its scenarios one at a time, the lanes side by side. At the end, one line
// the lead can quote:
//   fault matrix: N scenarios, N passed, 0 duplicate snapshots, 0 wrong deletions
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FAULT_SCENARIOS, runScenario, type Verdict } from './fault-scenarios.ts';
import { startCloud, type LocalCloud } from './harness.ts';

const LANES = 6;

const tally = { scenarios: 0, passed: 0, duplicates: 0, wrongDeletions: 0 };

describe('fault matrix', { concurrency: true }, () => {
  for (let lane = 0; lane < LANES; lane += 1) {
    const scenarios = FAULT_SCENARIOS.filter((_, i) => i % LANES === lane);
    describe(`lane ${lane + 1}`, { concurrency: 1 }, () => {
      let cloud: LocalCloud;
      before(async () => {
        cloud = await startCloud({ snapshotSeconds: 1 });
      });
      after(() => cloud.stop());

      for (const scenario of scenarios) {
        test(scenario.name, { timeout: scenario.timeoutMs ?? 60_000, ...(scenario.bug ? { todo: `action bug: ${scenario.bug}` } : {}) }, async () => {
          tally.scenarios += 1;
          const verdict: Verdict = { duplicates: 0, wrongDeletions: [] };
          try {
            const { step } = await runScenario(cloud, scenario, verdict);
            // Its second token was masked too: step() checks every token a run was issued.
            if (scenario.reauth) assert.ok(step.newTokens.length >= 2, 'more than one token was issued');
            tally.passed += 1;
          } finally {
            tally.duplicates += verdict.duplicates;
            tally.wrongDeletions += verdict.wrongDeletions.length;
          }
        });
      }
    });
  }

  after(() => {
    console.log(
      `fault matrix: ${tally.scenarios} scenarios, ${tally.passed} passed, ${tally.duplicates} duplicate snapshots, ${tally.wrongDeletions} wrong deletions`,
    );
  });
});
