// Mode behaviour in this process against the project's local cloud: one LocalCloud per test, the
// action's own client logged in to it as the demo user, settings (or the runner's INPUT_*
// variables) built for it, and what was sent read back from the cloud's request log.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import * as core from '@actions/core';
import { MANAGED_BY } from '../../src/lib/constants.ts';
import { DEFAULT_NAME_TEMPLATE } from '../../src/lib/name-template.ts';
import { run } from '../../src/main.ts';
import type { FleetResult } from '../../src/modes/fleet.ts';
import type { Outcome, StepError } from '../../src/modes/outcome.ts';
import { Cloud, type CloudOptions } from '../../src/openstack/cloud.ts';
import type { Credentials } from '../../src/openstack/identity.ts';
import type { Selection } from '../../src/settings/selection.ts';
import type { CommonSettings } from '../../src/settings/common.ts';
import type { CopyPlan, CopySettings } from '../../src/settings/copy.ts';
import type { CreateSettings } from '../../src/settings/create.ts';
import type { DeleteSettings } from '../../src/settings/delete.ts';
import type { Retention } from '../../src/settings/inputs.ts';
import type { PruneSettings } from '../../src/settings/prune.ts';
import type { RestoreSettings } from '../../src/settings/restore.ts';
import type { VerifySettings } from '../../src/settings/verify.ts';
import {
  LocalCloud,
  type Image,
  type ImageSpec,
  type LocalCloudOptions,
  type RequestRecord,
  type Server,
  type ServerSpec,
  type VolumeSnapshot,
  type VolumeSnapshotSpec,
} from '../local-cloud/cloud.ts';
import { actionDefaults, parseOutputs } from './run-action.ts';
import { captureStdout, clearActionEnv, errorLines, releaseStdout, setInputs, stdout } from './step.ts';

/** The local cloud's region with Cinder. */
export const REGION = 'GRA7';

/** The servers named, and those with every tag and metadata pair given. */
export const selection = (...names: string[]): Selection => ({ names, tags: [], metadata: {}, allowEmpty: false });

export const retention = (overrides: Partial<Retention> = {}): Retention => ({
  policy: { last: 1 },
  includeUnmanaged: false,
  maxDeletes: 100,
  concurrency: 4,
  ...overrides,
});

/** The result of a mode that must have succeeded, for one server (not a fleet). */
export function succeeded<R>(outcome: Outcome<R>): Exclude<R, FleetResult> {
  assert.equal(outcome.failure, undefined, outcome.failure?.message);
  assert.ok(outcome.result, 'a result');
  assert.notEqual((outcome.result as { mode?: string }).mode, 'fleet', 'one server, not a fleet');
  return outcome.result as Exclude<R, FleetResult>;
}

/** The failure of a mode that must have failed. */
export function failed(outcome: Outcome<unknown>): StepError {
  assert.ok(outcome.failure, 'the step should have failed');
  return outcome.failure;
}

/** A request as the tests name it: method, the path under the service's endpoint (query kept), and a server action's name. */
function label(r: RequestRecord): string {
  const path = r.path.replace(/^\/(identity|compute|glance|volume)(-\w+)?/, '').replace(/^\/[^/]+\/(v2\.1|v3)\/[0-9a-f]{32}|^\/[^/]+(?=\/v2\/)/, '');
  return `${r.method} ${decodeURIComponent(path)}${r.action ? ` ${r.action}` : ''}`;
}

/** The run of main() in this process: how the step ended, its outputs, summary and log. */
export interface MainRun {
  exitCode: number | undefined;
  outputs: Record<string, string>;
  summary: string;
  stdout: string;
  errors: string[];
}

export class Local {
  readonly lc: LocalCloud;

  private constructor(lc: LocalCloud) {
    this.lc = lc;
  }

  /** A new local cloud for this test (stopped after it), and @actions/core's output captured meanwhile. */
  static async start(t: TestContext, options: LocalCloudOptions = {}): Promise<Local> {
    const lc = await LocalCloud.start(options);
    captureStdout();
    t.after(async () => {
      releaseStdout();
      // A mode may leave a request running when it ends (delete looks at Nova's servers beside Glance's image).
      await lc.settled();
      await lc.stop();
    });
    return new Local(lc);
  }

  get credentials(): Credentials {
    const { demo } = this.lc;
    return {
      method: 'password',
      authUrl: this.lc.authUrl,
      username: demo.username,
      password: demo.password,
      userDomainName: demo.userDomainName,
      projectId: demo.projectId,
      projectDomainName: demo.projectDomainName,
    };
  }

  /** The action's client of this cloud, as main() makes it. */
  client(overrides: Partial<CloudOptions> = {}): Cloud {
    return new Cloud({ credentials: this.credentials, region: REGION, iface: 'public', ...overrides });
  }

  #common(): CommonSettings {
    return { region: REGION, iface: 'public', credentials: this.credentials, tls: { insecure: false }, rateLimit: 0, dryRun: false, provenance: {} };
  }

  /** A create of the server named `web` unless told. */
  createSettings(overrides: Partial<CreateSettings> = {}): CreateSettings {
    return {
      ...this.#common(),
      mode: 'create',
      servers: selection('web'),
      stopInstance: false,
      concurrency: 4,
      template: DEFAULT_NAME_TEMPLATE,
      metadata: {},
      wait: true,
      timeoutMs: 30_000,
      ...overrides,
    };
  }

  deleteSettings(target: DeleteSettings['target'], overrides: Partial<DeleteSettings> = {}): DeleteSettings {
    return { ...this.#common(), mode: 'delete', target, ignoreMissing: false, deleteInUse: false, ...overrides };
  }

  /** A prune under `policy` (default keep-last 1) and the rest of the retention. */
  pruneSettings(policy: Partial<Retention> = {}, overrides: Partial<PruneSettings> = {}): PruneSettings {
    return { ...this.#common(), mode: 'prune', retention: retention(policy), ...overrides };
  }

  /** A restore of the server named `web` from its newest snapshot unless told. */
  restoreSettings(overrides: Partial<RestoreSettings> = {}): RestoreSettings {
    return {
      ...this.#common(),
      mode: 'restore',
      servers: selection('web'),
      concurrency: 4,
      snapshot: { newest: true },
      allowOtherInstance: false,
      snapshotBefore: false,
      timeoutMs: 30_000,
      ...overrides,
    };
  }

  /** A verify of the server named `web`'s newest snapshot unless told. */
  verifySettings(overrides: Partial<VerifySettings> = {}): VerifySettings {
    return {
      ...this.#common(),
      mode: 'verify',
      servers: selection('web'),
      concurrency: 4,
      snapshot: { newest: true },
      allowOtherInstance: false,
      timeoutMs: 30_000,
      ...overrides,
    };
  }

  /** A copy of snapshot `imageId` to SBG5 unless told. */
  copySettings(overrides: Partial<CopySettings> = {}, plan: Partial<CopyPlan> = {}): CopySettings {
    return {
      ...this.#common(),
      mode: 'copy',
      copy: { regions: ['SBG5'], timeoutMs: 30_000, ...plan },
      source: { servers: selection('web') },
      concurrency: 4,
      ...overrides,
    };
  }

  /** A server in REGION, named `web` unless told. */
  server(spec: Partial<ServerSpec> = {}): Server {
    return this.lc.addServer({ region: REGION, name: 'web', ...spec });
  }

  /** A snapshot of `server` as this action makes one: its marks, and Nova's. */
  snapshot(server: { id: string }, spec: Partial<ImageSpec> & { name: string | null }, properties: Record<string, string> = {}): Image {
    return this.lc.addImage({
      region: REGION,
      ...spec,
      properties: { image_type: 'snapshot', instance_uuid: server.id, managed_by: MANAGED_BY, source_instance_id: server.id, ...properties },
    });
  }

  /** A volume-backed snapshot as Nova makes one: an empty image whose block device mapping names these Cinder snapshots. */
  volumeBackedImage(spec: Partial<ImageSpec> & { name: string }, snapshotIds: string[], properties: Record<string, string> = {}): Image {
    const mapping = snapshotIds.map((id, index) => ({
      source_type: 'snapshot',
      snapshot_id: id,
      destination_type: 'volume',
      boot_index: index === 0 ? 0 : null,
    }));
    return this.lc.addImage({
      region: REGION,
      size: 0,
      ...spec,
      properties: { bdm_v2: 'True', root_device_name: '/dev/sda', base_image_ref: '', block_device_mapping: JSON.stringify(mapping), ...properties },
    });
  }

  /** A Cinder snapshot as Nova makes it for the image named `imageName`. */
  cinderSnapshot(id: string, imageName: string, spec: Partial<VolumeSnapshotSpec> = {}): VolumeSnapshot {
    return this.lc.addVolumeSnapshot({ region: REGION, id, name: `snapshot for ${imageName}`, ...spec });
  }

  /** The requests the cloud got, as `METHOD path [action]`, those `which` picks. */
  sent(which: (r: RequestRecord) => boolean = () => true): string[] {
    return this.lc.requests.filter(which).map(label);
  }

  /** The requests that change the cloud (what a dry run or a refusal must not send). */
  changes(): string[] {
    return this.sent((r) => r.mutating);
  }

  /** The arguments of each server action `action` sent, in order (at least one). */
  argsOf<T>(action: string): [T, ...T[]] {
    const args = this.lc.requests.filter((r) => r.action === action).map((r) => r.args as T);
    assert.ok(args[0], `no ${action} was sent`);
    return [args[0], ...args.slice(1)];
  }

  /** The query of each Glance listing sent. */
  listings(): Record<string, string>[] {
    return this.lc.requests
      .filter((r) => r.service === 'image' && /\/v2\/images\?/.test(r.path))
      .map((r) => Object.fromEntries(new URL(r.path, this.lc.url).searchParams));
  }

  /** The password login of this cloud as inputs. */
  get loginInputs(): Record<string, string> {
    const { demo } = this.lc;
    return { 'auth-url': this.lc.authUrl, username: demo.username, password: demo.password, 'project-id': demo.projectId, region: REGION };
  }
}

/** The step's output and summary files, one pair for the process: @actions/core keeps the summary's path once it has read it. */
const STEP_DIR = mkdtempSync(join(tmpdir(), 'osa-main-'));
const STEP_FILES = { GITHUB_OUTPUT: join(STEP_DIR, 'output'), GITHUB_STEP_SUMMARY: join(STEP_DIR, 'summary') };
process.on('exit', () => rmSync(STEP_DIR, { recursive: true, force: true }));

/**
 * main() as the runner starts the step: action.yml's defaults and `inputs` (the login among them:
 * loginInputs) as INPUT_* variables, empty output and summary files; the environment is restored after it.
 */
export async function runMain(inputs: Record<string, string>): Promise<MainRun> {
  for (const [name, file] of Object.entries(STEP_FILES)) {
    writeFileSync(file, '');
    process.env[name] = file;
  }
  core.summary.emptyBuffer();
  clearActionEnv();
  setInputs({ ...actionDefaults(), ...inputs });
  process.exitCode = undefined;
  captureStdout();
  try {
    await run();
    return {
      exitCode: process.exitCode === undefined ? undefined : Number(process.exitCode),
      outputs: parseOutputs(readFileSync(STEP_FILES.GITHUB_OUTPUT, 'utf8')),
      summary: readFileSync(STEP_FILES.GITHUB_STEP_SUMMARY, 'utf8'),
      stdout: stdout(),
      errors: errorLines(),
    };
  } finally {
    releaseStdout();
    process.exitCode = undefined;
    clearActionEnv();
    for (const name of Object.keys(STEP_FILES)) delete process.env[name];
  }
}
