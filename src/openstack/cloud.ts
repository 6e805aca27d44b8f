import type { Got } from 'got';
import { createHttp, type Logger, type TlsOptions } from './client.ts';
import { Compute } from './compute.ts';
import { regionsOffering, type Interface } from './catalog.ts';
import { Identity, secretsOf, type Credentials } from './identity.ts';
import { ImageService } from './image.ts';
import { Secrets } from './secrets.ts';
import { VOLUME_SERVICE_TYPES, VolumeService } from './volume.ts';

export interface CloudOptions {
  credentials: Credentials;
  region: string;
  iface: Interface;
  rateLimit?: number;
  requestTimeoutMs?: number;
  tls?: TlsOptions;
  log?: Logger;
  /** Every token a login gets, and the OIDC client's basic credentials, go through here first (to be masked). */
  onToken?: (token: string) => void;
}

/** Another region of a Cloud's project: its login, client and request count. */
interface InRegion {
  region: string;
  iface: Interface;
  shared: { identity: Identity; http: Got; counter: { requests: number } };
}

/** One region of one project: the services, found in the catalog on first use. */
export class Cloud {
  readonly identity: Identity;
  readonly region: string;
  readonly #http: Got;
  readonly #iface: Interface;
  /** Shared by the Clouds of other regions made from this one (inRegion): one count for the run. */
  readonly #counter: { requests: number };
  #compute?: Promise<Compute>;
  #images?: Promise<ImageService>;
  #volumes?: Promise<VolumeService>;

  constructor(options: CloudOptions | InRegion) {
    this.region = options.region;
    this.#iface = options.iface;
    if ('shared' in options) {
      const { shared } = options;
      this.identity = shared.identity;
      this.#http = shared.http;
      this.#counter = shared.counter;
      return;
    }
    const counter = { requests: 0 };
    this.#counter = counter;
    // Every secret this client holds or is given: a service that echoes one in an error body must not put it in a message.
    const secrets = new Secrets();
    for (const secret of secretsOf(options.credentials)) secrets.add(secret);
    const base = createHttp({
      rateLimit: options.rateLimit,
      requestTimeoutMs: options.requestTimeoutMs,
      tls: options.tls,
      log: options.log,
      onRequest: () => {
        counter.requests += 1;
      },
      redact: secrets.redact,
    });
    this.identity = new Identity(base, options.credentials, (token) => {
      secrets.add(token);
      options.onToken?.(token);
    });
    this.#http = this.identity.authorized(base);
  }

  /** The same project, login and client in another region (its services found in the same catalog). */
  inRegion(region: string): Cloud {
    return new Cloud({ region, iface: this.#iface, shared: { identity: this.identity, http: this.#http, counter: this.#counter } });
  }

  /** The regions whose catalog entries offer any of `types` on this interface (the image service: ['image']). */
  async regionsOf(types: readonly string[]): Promise<string[]> {
    return regionsOffering((await this.identity.token()).catalog, types, this.#iface);
  }

  /** Requests sent so far, retries included. */
  get requests(): number {
    return this.#counter.requests;
  }

  async projectId(): Promise<string> {
    return (await this.identity.token()).projectId;
  }

  compute(): Promise<Compute> {
    this.#compute ??= this.#endpoint(['compute']).then((url) => new Compute(this.#http, url));
    return this.#compute;
  }

  images(): Promise<ImageService> {
    this.#images ??= this.#endpoint(['image']).then((url) => new ImageService(this.#http, url));
    return this.#images;
  }

  volumes(): Promise<VolumeService> {
    this.#volumes ??= this.#endpoint(VOLUME_SERVICE_TYPES).then((url) => new VolumeService(this.#http, url));
    return this.#volumes;
  }

  #endpoint(types: readonly string[]): Promise<string> {
    return this.identity.endpoint(types, this.region, this.#iface);
  }
}
