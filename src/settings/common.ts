import * as core from '@actions/core';
import { Input, MODES, RENAMED_INPUTS, type Mode } from '../lib/constants.ts';
import type { Provenance } from '../lib/provenance.ts';
import type { Interface } from '../openstack/catalog.ts';
import type { TlsOptions } from '../openstack/client.ts';
import type { Credentials } from '../openstack/identity.ts';
import { readCredentials, type Read } from './credentials.ts';
import type { Reader } from './readers.ts';
import { readTls } from './tls.ts';
import { PROXY_VARIABLES, proxyProblems, userinfoSecrets } from './urls.ts';

/** What every mode needs: where, as whom, how fast, and whether anything may change. */
export interface CommonSettings {
  region: string;
  iface: Interface;
  credentials: Credentials;
  /** The CAs trusted (cacert), or no check at all (insecure). */
  tls: TlsOptions;
  /** Requests per second at most (0: no ceiling). */
  rateLimit: number;
  /** Send nothing that changes the cloud: say what would be done. */
  dryRun: boolean;
  provenance: Provenance;
}

const INTERFACES: readonly Interface[] = ['public', 'internal', 'admin'];
const DEFAULT_RATE_LIMIT = 10;

/** An input under its name before the renames is a problem, never ignored. */
export function renamedInputs(): string[] {
  // Given at all (even empty, e.g. an output of a step that made none): it is a with: key of the workflow.
  return Object.entries(RENAMED_INPUTS)
    .filter(([old]) => process.env[`INPUT_${old.toUpperCase()}`] !== undefined)
    .map(([old, now]) => `${old} was renamed ${now}; give it as ${now} (the old name is not read)`);
}

export function readMode(problems: string[]): Mode | undefined {
  const modeText = (core.getInput(Input.Mode) || 'create').toLowerCase();
  const mode = MODES.find((m) => m === modeText);
  if (!mode) problems.push(`${Input.Mode}: "${modeText}" is not a mode; use ${MODES.slice(0, -1).join(', ')} or ${MODES.at(-1)}`);
  return mode;
}

/** The cloud to talk to: region, endpoint interface, login and TLS (undefined when one of them is missing or wrong). */
export function readCloud(text: Read, problems: string[]): Pick<CommonSettings, 'region' | 'iface' | 'credentials' | 'tls'> | undefined {
  const region = text(Input.Region, 'OS_REGION_NAME');
  if (!region) problems.push(`${Input.Region}: required (or OS_REGION_NAME), e.g. GRA11; the error after authentication lists the project's regions`);

  const ifaceNames = [Input.Interface, 'OS_INTERFACE', 'OS_ENDPOINT_TYPE'] as const;
  const ifaceText = (text(...ifaceNames) ?? 'public').toLowerCase().replace(/url$/, '');
  const iface = INTERFACES.find((i) => i === ifaceText);
  if (!iface) problems.push(`${text.from(...ifaceNames)}: "${ifaceText}" is not an endpoint interface; use public, internal or admin`);

  const credentials = readCredentials(text, problems);
  const tls = readTls(text, problems);
  return region && iface && credentials ? { region, iface, credentials, tls } : undefined;
}

/** The limits of the run: the proxy (checked, its password masked), the request-rate ceiling, and dry-run. */
export function readLimits(env: NodeJS.ProcessEnv, bool: Reader['bool'], problems: string[]): Pick<CommonSettings, 'rateLimit' | 'dryRun'> {
  // The proxy's password is masked before the proxy is used or any problem is shown.
  for (const name of PROXY_VARIABLES) for (const secret of userinfoSecrets(env[name] ?? '')) core.setSecret(secret);
  problems.push(...proxyProblems(env));

  const rateLimit = Number(core.getInput(Input.RateLimit) || DEFAULT_RATE_LIMIT);
  if (!Number.isFinite(rateLimit) || rateLimit < 0)
    problems.push(`${Input.RateLimit}: "${core.getInput(Input.RateLimit)}" is not valid; use requests per second (e.g. 10), or 0 for no ceiling`);

  return { rateLimit, dryRun: bool(Input.DryRun, false) };
}
