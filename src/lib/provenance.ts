/** Where a snapshot came from: the workflow run that took it. Empty outside GitHub Actions. */
export interface Provenance {
  repository?: string;
  sha?: string;
  runId?: string;
  runAttempt?: string;
  workflow?: string;
  refName?: string;
  runUrl?: string;
}

/** The runner's own variables: all @actions/github's `context` would give here, without octokit in the bundle. */
export function readProvenance(env: NodeJS.ProcessEnv = process.env): Provenance {
  const repository = env.GITHUB_REPOSITORY || undefined;
  const runId = env.GITHUB_RUN_ID || undefined;
  return {
    repository,
    sha: env.GITHUB_SHA || undefined,
    runId,
    runAttempt: env.GITHUB_RUN_ATTEMPT || undefined,
    workflow: env.GITHUB_WORKFLOW || undefined,
    refName: env.GITHUB_REF_NAME || undefined,
    runUrl: repository && runId ? `${env.GITHUB_SERVER_URL || 'https://github.com'}/${repository}/actions/runs/${runId}` : undefined,
  };
}

/** The image properties that record the provenance (Nova takes values of at most 255 characters). */
export function provenanceProperties(p: Provenance): Record<string, string> {
  const entries: [string, string | undefined][] = [
    ['github_repository', p.repository],
    ['github_sha', p.sha],
    ['github_run_id', p.runId],
    ['github_run_attempt', p.runAttempt],
    ['github_workflow', p.workflow],
    ['github_ref_name', p.refName],
  ];
  return Object.fromEntries(entries.filter((e): e is [string, string] => !!e[1]).map(([k, v]) => [k, v.slice(0, 255)]));
}

export const PROVENANCE_KEYS = ['github_repository', 'github_sha', 'github_run_id', 'github_run_attempt', 'github_workflow', 'github_ref_name'];
