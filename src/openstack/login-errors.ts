import { OpenStackError } from './errors.ts';

/**
 * Where a token, federated or OIDC login failed: the caller words it, naming the input to fix.
 * - `token`: Keystone refused the given token at the first login;
 * - `expired`: a token login's token was refused when renewing (it cannot be renewed);
 * - `issuer`: the OIDC issuer refused the client (its ID or secret);
 * - `federation`: Keystone refused the bearer token at the identity provider's federation URL
 *   (unknown identity provider or protocol, wrong audience, no mapping);
 * - `scope`: the login worked but Keystone refused to scope the token to the project.
 */
export type LoginStage = 'token' | 'expired' | 'issuer' | 'federation' | 'scope';

export class LoginError extends OpenStackError {
  override name = 'LoginError';
  readonly stage: LoginStage;
  readonly status: number | undefined;
  constructor(stage: LoginStage, message: string, status: number | undefined, options?: ErrorOptions) {
    super(message, options);
    this.stage = stage;
    this.status = status;
  }
}
