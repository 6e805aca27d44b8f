import { hasWildcard } from '../lib/glob.ts';
import { readProvenance } from '../lib/provenance.ts';
import { cloudName, loadYamlParser, withCloudsYaml } from './clouds-yaml.ts';
import { readCloud, readLimits, readMode, renamedInputs } from './common.ts';
import { copyRegionProblems, copyRules, type CopySettings } from './copy.ts';
import { createRules, type CreateSettings } from './create.ts';
import { deleteRules, type DeleteSettings } from './delete.ts';
import { oneModeInputs, readInputs } from './inputs.ts';
import { pruneRules, type PruneSettings } from './prune.ts';
import { inputReader } from './readers.ts';
import { restoreRules, type RestoreSettings } from './restore.ts';
import { selectionProblems } from './selection.ts';
import { verifyRules, type VerifySettings } from './verify.ts';

export type Settings = CreateSettings | DeleteSettings | PruneSettings | RestoreSettings | VerifySettings | CopySettings;

export class SettingsError extends Error {
  override name = 'SettingsError';
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid input${problems.length > 1 ? 's' : ''}:\n${problems.map((p) => `- ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

/** Each mode's rules, and its part of the settings (settings/<mode>.ts). */
const RULES = { create: createRules, delete: deleteRules, prune: pruneRules, restore: restoreRules, verify: verifyRules, copy: copyRules };

/**
 * readSettings, the YAML parser loaded first when a clouds.yaml is to be read (the `cloud` input
 * or OS_CLOUD names a cloud): most runs read none, and in dist/ the parser is a chunk of its own.
 */
export async function loadSettings(env: NodeJS.ProcessEnv = process.env): Promise<Settings> {
  if (cloudName(inputReader(env, []).text)) await loadYamlParser();
  return readSettings(env);
}

/**
 * Every input, with the openrc `OS_*` variables as fallbacks for the cloud ones, into one
 * validated object. All problems are gathered and reported together, in this order; nothing
 * here talks to the cloud. Secrets are masked as soon as they are read.
 */
export function readSettings(env: NodeJS.ProcessEnv = process.env): Settings {
  const problems: string[] = [];
  const read = inputReader(env, problems);
  // clouds.yaml fills in what the inputs and OS_* leave out (region and interface too).
  const text = withCloudsYaml(read.text, env, problems);
  problems.push(...renamedInputs());
  const mode = readMode(problems);
  const cloud = readCloud(text, problems);
  const inputs = readInputs(mode, read, problems, env);
  const { imageId, snapshotName } = inputs;
  // A snapshot named exactly is one server's.
  problems.push(...selectionProblems(mode, inputs.servers, !!imageId || (!!snapshotName && !hasWildcard(snapshotName))));
  const rules = mode && RULES[mode];
  rules?.check(inputs, problems);
  problems.push(...copyRegionProblems(inputs.copyToRegion, cloud?.region));
  const stopInstance = oneModeInputs(mode, inputs, read.bool, problems);
  const limits = readLimits(env, read.bool, problems);
  if (problems.length || !rules || !cloud) throw new SettingsError(problems);
  return { ...cloud, ...limits, provenance: readProvenance(env), ...rules.settings(inputs, stopInstance) };
}
