import { Property } from './constants.ts';

/** One step of one workflow run, whatever its attempt: what a re-run of the step has in common with the first run. */
export interface StepKey {
  runId: string;
  job: string;
  step: string;
}

/** The runner's GITHUB_RUN_ID, GITHUB_JOB and GITHUB_ACTION; undefined outside a runner (any of them missing). */
export function readStepKey(env: NodeJS.ProcessEnv): StepKey | undefined {
  const [runId, job, step] = [env.GITHUB_RUN_ID, env.GITHUB_JOB, env.GITHUB_ACTION];
  return runId && job && step ? { runId, job, step } : undefined;
}

/** The image properties that mark a snapshot as this step's (github_run_id is the provenance's). Nova takes values of at most 255 characters. */
export function stepProperties(key: StepKey): Record<'github_run_id' | typeof Property.Job | typeof Property.Step, string> {
  return { github_run_id: key.runId.slice(0, 255), [Property.Job]: key.job.slice(0, 255), [Property.Step]: key.step.slice(0, 255) };
}
