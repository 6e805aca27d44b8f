import { Input } from '../constants.ts';
import { AmbiguousError, AuthError, CatalogError, NotFoundError } from '../openstack/errors.ts';

/** A failure already worded for the user: what happened and what to do. */
export class StepError extends Error {
  override name = 'StepError';
}

/** Why the step fails, and what later steps still need of it. */
export interface Failure {
  message: string;
  /** A snapshot that was requested but did not become active: later steps still get its ID. */
  imageId?: string;
}

/** What a mode did (`result`), and whether the step fails for it: every mode returns one. */
export interface Outcome<Result> {
  result?: Result;
  failure?: Failure;
}

/**
 * The words for a failure: the OpenStack layer's typed errors say what the cloud answered, and
 * here it is said which input to change. Anything else is shown as it is.
 */
export function explain(error: unknown, where: { region: string }): string {
  if (error instanceof NotFoundError && error.kind === 'server') {
    return `No server named or with ID "${error.key}" in region ${where.region}: check the ${Input.Instance} input and the region (server names are matched exactly)`;
  }
  if (error instanceof AmbiguousError && error.kind === 'server') {
    return `${error.ids.length} servers are named "${error.key}" in region ${where.region} (${error.ids.join(', ')}): set the ${Input.Instance} input to the ID of the one to snapshot`;
  }
  if (error instanceof CatalogError) {
    if (error.problem === 'service') return `The catalog has no ${error.service} service: this cloud or this project does not offer it`;
    if (error.problem === 'region') {
      return `Region "${error.region}" is not in the catalog for ${error.service}: this project's regions are ${error.offered.join(', ') || '(none)'}; set the ${Input.Region} input (or OS_REGION_NAME) to one of them`;
    }
    return `The ${error.service} service of region ${error.region} has no ${error.iface} endpoint (it has: ${error.offered.join(', ')}); set the ${Input.Interface} input`;
  }
  if (error instanceof AuthError) return `${error.message}: check the password or secret, the domain and the project`;
  return error instanceof Error ? error.message : String(error);
}
