import { Input } from '../lib/constants.ts';
import { AmbiguousError, AuthError, CatalogError, codeOf, NotFoundError, untrustedOrigin } from '../openstack/errors.ts';
import { LoginError, type LoginStage } from '../openstack/login-errors.ts';

/**
 * Why the step fails, in the mode's own words: what happened and what to do. Thrown on the way,
 * or carried by an Outcome when the mode has something to show all the same.
 */
export class StepError extends Error {
  override name = 'StepError';
  /** A snapshot that was requested but did not become active: later steps still get its ID. */
  readonly imageId: string | undefined;
  constructor(message: string, options?: ErrorOptions & { imageId?: string }) {
    super(message, options);
    this.imageId = options?.imageId;
  }
}

/** A prune that deleted nothing, since what it would delete cannot be right: the step fails for it. */
export class Refusal extends StepError {
  override name = 'Refusal';
  /** Why, as the summary says it beside the prune. */
  readonly reason: string;
  constructor(reason: string) {
    super(`Prune refused: ${reason}`);
    this.reason = reason;
  }
}

/** What a mode did (`result`), and whether the step fails for it: every mode returns one. */
export interface Outcome<Result> {
  result?: Result;
  failure?: StepError;
}

/** Which inputs to fix when a token, OIDC or federated login fails. */
const LOGIN_ADVICE: Record<LoginStage, string> = {
  token: `check the ${Input.Token} input (or OS_TOKEN): it may have expired or been revoked; and ${Input.ProjectId} / ${Input.ProjectName}: the token's user must have a role there`,
  expired: `a ${Input.Token} login cannot renew its token; for runs longer than the token lives, log in with an application credential (${Input.ApplicationCredentialId}, ${Input.ApplicationCredentialSecret})`,
  issuer: `check ${Input.ClientId} and ${Input.ClientSecret} (or OS_CLIENT_ID, OS_CLIENT_SECRET), and ${Input.DiscoveryEndpoint} (the issuer)`,
  federation: `check ${Input.IdentityProvider} and ${Input.Protocol} (Keystone's names for them), and that the token's audience (${Input.OidcAudience} for github-oidc) and claims are what the identity provider's mapping expects`,
  scope: `the identity provider's mapping gives no role on that project: check ${Input.ProjectId} / ${Input.ProjectName} and ${Input.ProjectDomainName} / ${Input.ProjectDomainId}, or ask the cloud's operator to map this identity to the project`,
};

/**
 * The words for a failure: the OpenStack layer's typed errors say what the cloud answered, and
 * here it is said which input to change. Anything else is shown as it is.
 */
export function explain(error: unknown, where: { region: string }): string {
  if (error instanceof NotFoundError && error.kind === 'server') {
    return `No instance named or with ID "${error.key}" in region ${where.region}: check the ${Input.Instance} input and the region (instance names are matched exactly)`;
  }
  if (error instanceof AmbiguousError && error.kind === 'server') {
    return `${error.ids.length} instances are named "${error.key}" in region ${where.region} (${error.ids.join(', ')}): set the ${Input.Instance} input to the ID of the one to snapshot`;
  }
  if (error instanceof CatalogError) {
    if (error.problem === 'service') return `The catalog has no ${error.service} service: this cloud or this project does not offer it`;
    if (error.problem === 'region') {
      return `Region "${error.region}" is not in the catalog for ${error.service}: this project's regions are ${error.offered.join(', ') || '(none)'}; set the ${Input.Region} input (or OS_REGION_NAME) to one of them`;
    }
    return `The ${error.service} service of region ${error.region} has no ${error.iface} endpoint (it has: ${error.offered.join(', ')}); set the ${Input.Interface} input`;
  }
  const untrusted = untrustedOrigin(error);
  if (untrusted) {
    return `The TLS certificate of ${untrusted} is not signed by a CA this run trusts (${codeOf(error)}): give the cloud's CA certificates (PEM) in the ${Input.Cacert} input (or OS_CACERT, or cacert in clouds.yaml)`;
  }
  if (error instanceof LoginError) return `${error.message}: ${LOGIN_ADVICE[error.stage]}`;
  if (error instanceof AuthError) return `${error.message}: check the password or secret, the domain and the project`;
  return error instanceof Error ? error.message : String(error);
}

/** Any error as the step's failure: one in the mode's words as it is, any other in explain()'s. */
export function asFailure(error: unknown, where: { region: string }): StepError {
  return error instanceof StepError ? error : new StepError(explain(error, where), { cause: error });
}
