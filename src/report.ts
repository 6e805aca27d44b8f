import * as core from '@actions/core';
import { Input, Output, Property } from './lib/constants.ts';
import { isoSeconds } from './lib/duration.ts';
import { neutralise, log } from './lib/log.ts';
import type { CopyRecord } from './modes/copy/copy-image.ts';
import type { CreateResult } from './modes/create/create.ts';
import type { DeleteResult } from './modes/delete/delete.ts';
import type { Result } from './modes/run.ts';
import type { Deletion } from './modes/delete/deletion.ts';
import type { FleetItem, FleetResult } from './modes/fleet.ts';
import { Refusal, type Outcome, type StepError } from './modes/outcome.ts';
import type { PostResult } from './modes/post/finish.ts';
import type { PruneResult } from './modes/prune/prune.ts';
import type { RestoreResult } from './modes/restore/restore.ts';
import type { VerifyResult } from './modes/verify/verify.ts';
import { instancesOf, type Marked } from './modes/snapshots.ts';
import type { Decision, Rule } from './lib/retention.ts';
import type { Settings } from './settings/settings.ts';

/** GitHub keeps at most 1 MiB of summary per step: long prunes show this many rows. */
const MAX_ROWS = 500;

/** Summary text is HTML in Markdown: names and messages come from the cloud and from users, so all of it is escaped here. */
const html = (text: string) =>
  neutralise(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;').replace(/\|/g, '&#124;');
/** A cell with no value. */
const NONE = '–';
/** A table whose every cell is data; a column with no value in any row is left out. */
function table(header: string[], rows: string[][]) {
  const shown = header.map((_, i) => !rows.length || rows.some((row) => row[i] !== '' && row[i] !== NONE));
  const some = <T>(cells: T[]) => cells.filter((_, i) => shown[i]);
  core.summary.addTable([some(header).map((data) => ({ data: html(data), header: true })), ...rows.map((row) => some(row).map(html))]);
}
/** A paragraph: `label` is the action's words, `text` is data. */
const paragraph = (label: string, text: string) => core.summary.addRaw(`<p>${label ? `<b>${label}</b> ` : ''}${html(text)}</p>`, true);
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
function size(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return NONE;
  let power = 0;
  while (power < UNITS.length - 1 && bytes >= 1024 ** (power + 1)) power++;
  return power ? `${(bytes / 1024 ** power).toFixed(1)} ${UNITS[power]}` : `${bytes} B`;
}
const json = (values: string[]) => JSON.stringify(values);
const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** What became of one instance, as a row of the `snapshots` output (snake_case, as the image properties are). */
function imageRow({ server, result, failure }: FleetItem<CreateResult | RestoreResult>) {
  const base = { instance_id: server.id, instance_name: server.name, error: failure?.message ?? null };
  if (result?.mode === 'create') {
    const { image } = result;
    return {
      ...base,
      snapshot_id: image.id || null,
      snapshot_name: image.name,
      status: image.status,
      duration_seconds: Number(seconds(result.durationMs)),
      consistency: result.consistency,
      downtime_seconds: result.downtimeMs === undefined ? null : Number(seconds(result.downtimeMs)),
      ...(result.capturedAt ? { captured_at: result.capturedAt.toISOString() } : {}),
    };
  }
  if (result?.mode === 'restore') {
    return {
      ...base,
      snapshot_id: result.image.id,
      snapshot_name: result.image.name,
      status: result.server.status,
      duration_seconds: Number(seconds(result.durationMs)),
      previous_image_id: result.previousImageId ?? null,
    };
  }
  return { ...base, snapshot_id: failure?.imageId ?? null, snapshot_name: null, status: 'failed', duration_seconds: null };
}
type Row = ReturnType<typeof imageRow>;

/** The snapshots a prune keeps: by the policy, or held (in use, or not deletable). */
function keptBy(prune: PruneResult): string[] {
  const held = new Set(prune.held.map((h) => h.image.id));
  return prune.decisions.filter((d) => d.keep || held.has(d.snapshot.id)).map((d) => d.snapshot.id);
}

/** The outcome as the outputs and the summary see it, whatever the mode and however it ended. */
interface View {
  /** The one instance a create or restore was about: its outputs are the step's. */
  alone?: CreateResult | RestoreResult;
  /** Several instances done in one step: what was done, and a row for each. */
  fleet?: { of: FleetResult['of']; rows: Row[] };
  deleted?: DeleteResult;
  /** Mode prune's, or those after the snapshots. */
  prunes: PruneResult[];
  /** The snapshots made (one, or a fleet's): what the capture note covers (wait: captured, a re-run's reuse). */
  created: CreateResult[];
  /** Copies in other regions: mode copy's, or create's with copy-to-region (undefined when none was asked for). */
  copies?: CopyRecord[];
}

function viewOf(result: Exclude<Result, VerifyResult | FleetResult<VerifyResult>> | undefined): View {
  const view = viewWithoutCopies(result);
  if (result?.mode === 'copy') return { ...view, copies: result.copies };
  const asked = view.created.filter((r) => r.copies);
  return asked.length ? { ...view, copies: asked.flatMap((r) => r.copies ?? []) } : view;
}

function viewWithoutCopies(result: Exclude<Result, VerifyResult | FleetResult<VerifyResult>> | undefined): View {
  switch (result?.mode) {
    case 'create':
      return { alone: result, prunes: result.prune ? [result.prune] : [], created: [result] };
    case 'restore':
      return { alone: result, prunes: [], created: [] };
    case 'fleet': {
      const created = result.items.flatMap((item) => (item.result?.mode === 'create' ? [item.result] : []));
      const prunes = created.flatMap((r) => (r.prune ? [r.prune] : []));
      return { fleet: { of: result.of, rows: result.items.map(imageRow) }, prunes, created };
    }
    case 'prune':
      return { prunes: [result], created: [] };
    case 'delete':
      return { deleted: result, prunes: [], created: [] };
    default:
      return { prunes: [], created: [] };
  }
}

/** What the step deleted, or chose to delete: mode delete's, or its prunes'. */
const deletionsOf = ({ deleted, prunes }: View) => deleted?.deletions ?? (prunes.length ? prunes.flatMap((p) => p.deletions) : undefined);

/** Each output in one place; one the step has no value for is not set. */
function outputs(view: View, failure: StepError | undefined): void {
  const { alone, fleet, prunes } = view;
  const created = alone?.mode === 'create' ? alone : undefined;
  const restored = alone?.mode === 'restore' ? alone : undefined;
  const deletions = deletionsOf(view);
  const done = deletions?.filter((d) => d.outcome === 'deleted');
  const set = (name: string, value: string | undefined) => {
    if (value !== undefined) log.output(name, value);
  };
  // The snapshot made or restored from; or one that was requested but did not become active.
  set(Output.SnapshotId, alone?.image.id || failure?.imageId);
  set(Output.SnapshotName, alone && (alone.image.name ?? ''));
  set(Output.SnapshotStatus, created?.image.status);
  set(Output.SnapshotSize, created && String(created.image.size ?? ''));
  set(Output.InstanceId, alone?.server.id);
  set(Output.InstanceName, alone?.server.name);
  set(Output.VolumeBacked, created && String(created.server.volumeBacked));
  // The new snapshot's; or those a delete or a prune deleted (a fleet's names none).
  const volumeSnapshots = created
    ? created.volumeSnapshotIds
    : fleet
      ? undefined
      : done?.flatMap((d) => d.volumeSnapshots.filter((v) => v.outcome === 'deleted').map((v) => v.id));
  set(Output.VolumeSnapshotIds, volumeSnapshots && json(volumeSnapshots));
  set(Output.Duration, alone && seconds(alone.durationMs));
  set(Output.DeletedSnapshotIds, done && json(done.map((d) => d.image.id)));
  set(Output.DeletedCount, done && String(done.length));
  // What it tried to delete: a prune's deletions that failed too.
  const failed = prunes.flatMap((p) => p.failures.map((f) => f.image.id));
  set(Output.PlannedSnapshotIds, deletions && json([...deletions.map((d) => d.image.id), ...failed]));
  set(Output.KeptSnapshotIds, prunes.length ? json(prunes.flatMap(keptBy)) : undefined);
  set(Output.PreviousImageId, restored && (restored.previousImageId ?? ''));
  set(Output.BackupSnapshotId, restored?.backup?.image.id);
  const rows = fleet?.rows ?? (alone && [imageRow({ server: alone.server, result: alone })]);
  set(Output.Snapshots, rows && JSON.stringify(rows));
  set(Output.Consistency, created?.consistency);
  set(Output.DowntimeSeconds, created && (created.downtimeMs === undefined ? '' : seconds(created.downtimeMs)));
  set(Output.CapturedAt, created && (created.capturedAt?.toISOString() ?? ''));
  set(Output.Copies, view.copies && JSON.stringify(view.copies.map(copyRow)));
}

/** One copy as a row of the `copies` output (snake_case, as the snapshots output). */
function copyRow(copy: CopyRecord) {
  return {
    region: copy.region,
    image_id: copy.imageId || null,
    status: copy.status,
    bytes: copy.bytes,
    seconds: Number(seconds(copy.durationMs)),
    method: copy.method,
    source_region: copy.sourceRegion,
    source_image_id: copy.sourceId || null,
    instance_id: copy.instanceId,
    deleted_copy_ids: copy.prune ? copy.prune.deletions.filter((d) => d.outcome === 'deleted').map((d) => d.image.id) : [],
    error: copy.error ?? null,
  };
}

/** A row per copy: where from, where to, how and how fast; the prune of the region's copies after it. */
function copySection(copies: CopyRecord[], dryRun: boolean): void {
  core.summary.addHeading(dryRun ? 'Copies in other regions (dry run: nothing copied)' : 'Copies in other regions', 2);
  const rate = (c: CopyRecord) => (c.durationMs > 0 && c.bytes ? `${(c.bytes / 1e6 / (c.durationMs / 1000)).toFixed(1)} MB/s` : NONE);
  const pruned = (c: CopyRecord) => {
    if (!c.prune) return NONE;
    const gone = c.prune.deletions.filter((d) => d.outcome !== 'missing').length;
    return `${c.prune.dryRun ? 'would delete' : 'deleted'} ${gone} of ${c.prune.decisions.length}`;
  };
  table(
    ['Snapshot', 'From', 'To', 'Copy ID', 'Status', 'Size', 'Took', 'Rate', 'Method', 'Pruned', 'Error'],
    copies.map((c) => [
      `${c.sourceName ?? ''}${c.sourceId ? ` (${c.sourceId})` : ''}`,
      c.sourceRegion,
      c.region,
      c.imageId || NONE,
      c.status,
      size(c.bytes || null),
      `${seconds(c.durationMs)} s`,
      rate(c),
      c.method === 'stream' ? 'streamed through the runner' : c.method === 'existing' ? 'already there' : NONE,
      pruned(c),
      c.error ?? '',
    ]),
  );
}

function createSection(result: CreateResult): void {
  const { image, server } = result;
  core.summary.addHeading(result.dryRun ? 'Snapshot (dry run: not created)' : 'Snapshot created', 2);
  table(
    ['Snapshot', 'Snapshot ID', 'Status', 'Instance', 'Size', 'Took'],
    [
      [
        image.name,
        image.id || NONE,
        image.status,
        `${server.name} (${server.id})${server.volumeBacked ? ', volume-backed' : ''}`,
        size(image.size),
        `${seconds(result.durationMs)} s`,
      ],
    ],
  );
}

/** wait: captured: when each disk was captured, and a plain line when the job goes on before the upload ended; a re-run's reuse. */
function captureNote(results: readonly CreateResult[]): void {
  const reused = results.filter((r) => r.reused);
  if (reused.length)
    paragraph(
      'Re-run:',
      `reused the snapshot an earlier attempt of this step took (${reused.map((r) => r.image.id).join(', ')}); no second snapshot was taken.`,
    );
  const captured = results.filter((r) => r.capturedAt);
  if (!captured.length) return;
  paragraph('Captured at:', captured.map((r) => `${r.server.name}: ${r.capturedAt?.toISOString()}`).join(', '));
  const uploading = captured.filter((r) => r.uploading);
  if (uploading.length) {
    paragraph(
      'The job goes on before the upload ended:',
      `${uploading.map((r) => `${r.image.id} (${r.image.status})`).join(', ')}. Each holds the disk as it was when captured; the post step at the end of the job waits until it is active (and runs the prune after it, if asked) and fails the job if the upload fails.`,
    );
  }
}

function restoreSection(result: RestoreResult): void {
  const { image, server } = result;
  core.summary.addHeading(result.dryRun ? 'Restore (dry run: nothing rebuilt)' : 'Instance restored', 2);
  table(
    ['Instance', 'Restored from', 'Ran before', 'Snapshot before', 'Status', 'Took'],
    [
      [
        `${server.name} (${server.id})`,
        `${image.name ?? ''} (${image.id})`,
        result.previousImageId ?? NONE,
        result.backup ? `${result.backup.image.name}${result.backup.image.id ? ` (${result.backup.image.id})` : ''}` : NONE,
        server.status,
        `${seconds(result.durationMs)} s`,
      ],
    ],
  );
}

/** A fleet: one row per instance. */
function fleetSection(of: FleetResult['of'], rows: Row[]): void {
  const failed = rows.filter((row) => row.error).length;
  core.summary.addHeading(`${of === 'create' ? 'Snapshots' : 'Restores'} of ${rows.length} instance(s)${failed ? `: ${failed} failed` : ''}`, 2);
  table(
    ['Instance', 'Snapshot', 'Status', 'Took', of === 'create' ? 'Consistency' : 'Ran before', 'Error'],
    rows.map((row) => [
      `${row.instance_name} (${row.instance_id})`,
      row.snapshot_id ? `${row.snapshot_name ?? ''} (${row.snapshot_id})` : NONE,
      row.status,
      row.duration_seconds === null ? NONE : `${row.duration_seconds} s`,
      ('consistency' in row ? row.consistency : 'previous_image_id' in row ? row.previous_image_id : null) ?? NONE,
      row.error ?? '',
    ]),
  );
}

function deleteSection(result: DeleteResult): void {
  core.summary.addHeading(result.dryRun ? 'Snapshot to delete (dry run: nothing deleted)' : 'Snapshot deleted', 2);
  if (result.missing) core.summary.addRaw(html(`Nothing to delete: ${result.missing} was not found.`), true);
  else {
    const volumes = (d: Deletion) => d.volumeSnapshots.map((v) => `${v.id} (${v.outcome}${v.reason ? `: ${v.reason}` : ''})`).join(', ') || NONE;
    table(
      ['Snapshot', 'Snapshot ID', 'Volume snapshots'],
      result.deletions.map((d) => [d.image.name ?? '', d.image.id, volumes(d)]),
    );
  }
}

/** What each reason a prune table gives for keeping a snapshot means: explained once under the table. */
const REASONS: Record<Rule, string> = {
  last: `one of the newest (${Input.KeepLast})`,
  within: `taken within ${Input.KeepWithin} of the newest snapshot`,
  hourly: `the newest of its hour (${Input.KeepHourly})`,
  daily: `the newest of its day, UTC (${Input.KeepDaily})`,
  weekly: `the newest of its ISO week (${Input.KeepWeekly})`,
  monthly: `the newest of its month, UTC (${Input.KeepMonthly})`,
  yearly: `the newest of its year, UTC (${Input.KeepYearly})`,
  oldest: 'the oldest: there are fewer hours, days, weeks, months or years of snapshots than the policy keeps',
  newest: 'the newest snapshot (not dated in the future): always kept',
  protected: 'protected in Glance',
  future: 'dated in the future: a wrong clock must not cost a snapshot',
  verified: `one of the newest a verify booted (${Input.KeepVerified})`,
};

/** Who a snapshot records it is of, by name where a snapshot in scope records the name: the prune table's groups. */
function instanceLabels(images: Iterable<Marked>): (image: Marked) => string {
  const names = new Map<string, string>();
  for (const { properties } of images) {
    const [id, name] = [properties[Property.InstanceId], properties[Property.InstanceName]];
    if (typeof id === 'string' && typeof name === 'string' && name) names.set(id, name);
  }
  return (image) =>
    instancesOf(image)
      .map((id) => (names.has(id) ? `${names.get(id)} (${id})` : id))
      .join(', ') || '(none recorded)';
}

/** The space the deleted snapshots took (under dry run: would free), as Glance sizes them. */
function freed(deletions: Deletion[], dryRun: boolean): string {
  const gone = deletions.filter((d) => d.outcome !== 'missing');
  const bytes = gone.reduce((sum, d) => sum + (d.image.size ?? 0), 0);
  const volumes = gone.reduce((sum, d) => sum + d.volumeSnapshots.filter((v) => v.outcome === 'deleted' || v.outcome === 'would-delete').length, 0);
  const unsized = gone.some((d) => d.image.size === null) ? 'at least ' : '';
  return `${dryRun ? 'Would free' : 'Space freed'}: ${unsized}${size(bytes)}${volumes ? `, and ${volumes} volume snapshot(s) (sized by Cinder)` : ''}.`;
}

/** One prune: the policy, a row per snapshot in scope (grouped by instance) and what became of it; `refusal` when it deleted nothing for that. */
function pruneSection(result: PruneResult, refusal: Refusal | undefined): void {
  const deleted = new Map(result.deletions.map((d) => [d.image.id, d]));
  const failed = new Map(result.failures.map((f) => [f.image.id, f.failure.message]));
  const held = new Map(result.held.map((h) => [h.image.id, h.reason]));
  const verb = result.dryRun ? 'would delete' : 'deleted';
  core.summary
    .addHeading(`Prune${result.dryRun ? ' (dry run)' : ''}`, 2)
    .addRaw(
      `Policy: ${html(result.policy)}. In scope: ${result.decisions.length}; kept: ${keptBy(result).length}; ${verb}: ${result.deletions.length}.${refusal ? '' : ` ${html(freed(result.deletions, result.dryRun))}`}`,
      true,
    );
  if (refusal) paragraph('Refused:', refusal.reason);
  const fate = (id: string, keep: boolean, reasons: string[]) => {
    if (keep) return `kept (${reasons.join(', ')})`;
    if (held.has(id)) return `kept: ${held.get(id)}`;
    if (failed.has(id)) return `failed: ${failed.get(id)}`;
    const outcome = deleted.get(id)?.outcome;
    if (outcome === 'deleted' || outcome === 'missing') return 'deleted';
    return outcome === 'would-delete' ? 'would delete' : 'not deleted';
  };
  // One group per instance (the one with the newest snapshot first), newest first within each.
  const instanceOf = instanceLabels(result.images.values());
  const groups = new Map<string, Decision[]>();
  for (const d of result.decisions) {
    const key = instanceOf(result.images.get(d.snapshot.id)!);
    groups
      .set(key, groups.get(key) ?? [])
      .get(key)!
      .push(d);
  }
  const shown = [...groups.values()].flat().slice(0, MAX_ROWS);
  const rows = shown.map((d) => {
    const image = result.images.get(d.snapshot.id)!;
    return [instanceOf(image), image.name ?? '', image.id, isoSeconds(image.createdAt), size(image.size), fate(d.snapshot.id, d.keep, d.reasons)];
  });
  table(['Instance', 'Snapshot', 'Snapshot ID', 'Created', 'Size', 'Result'], rows);
  if (result.decisions.length > MAX_ROWS) core.summary.addRaw(`… and ${result.decisions.length - MAX_ROWS} more (see the outputs and the log).`, true);
  const reasons = new Set<string>(shown.flatMap((d) => (d.keep ? d.reasons : [])));
  const legend = Object.entries(REASONS).filter(([rule]) => reasons.has(rule));
  if (legend.length)
    core.summary.addRaw(`<p><b>Kept:</b><br>${legend.map(([rule, meaning]) => `<code>${rule}</code>: ${html(meaning)}`).join('<br>')}</p>`, true);
}

/** Why the step fails: beside what the mode did, or on its own when it has nothing to show. A refused prune says so in its own section. */
function failureSection(failure: StepError | undefined, shown: boolean): void {
  if (!failure || failure instanceof Refusal) return;
  if (shown) paragraph('Failed:', failure.message);
  else if (failure.imageId) {
    // A snapshot that was requested but did not become active: its ID and why, for whoever reads the run.
    core.summary.addHeading('Snapshot not active', 2);
    table(['Snapshot ID', 'What happened'], [[failure.imageId, failure.message]]);
  } else {
    // Failed before the mode had anything to show (the login, an instance not found).
    core.summary.addHeading('Failed', 2);
    paragraph('', failure.message);
  }
}

/** Only on a runner (or a test that gives it a file): summary.write() throws without one. */
async function write(): Promise<void> {
  if (process.env.GITHUB_STEP_SUMMARY) await core.summary.write();
}

/** The job summary of a step whose inputs are refused: nothing ran, so it sets no output. */
export async function reportInvalidInput(problems: string[]): Promise<void> {
  core.summary.addHeading(problems.length > 1 ? 'Invalid inputs' : 'Invalid input', 2).addList(problems.map(html));
  await write();
}

/** Outputs for later steps, and the job summary: where and what the mode did, and why the step fails if it does. */
export async function report({ result, failure }: Outcome<Result>, apiRequests: number, run: Pick<Settings, 'mode' | 'region' | 'dryRun'>): Promise<void> {
  log.output(Output.ApiRequests, String(apiRequests));
  if (isVerify(result)) return reportVerify(result, failure, run);
  const view = viewOf(result);
  outputs(view, failure);
  // create with verify: true.
  const verified = view.created.flatMap((created) => (created.verify ? [created.verify] : []));
  if (verified.length) log.output(Output.Verifications, JSON.stringify(verified.map((v) => verifyRow({ server: v.server, result: v }))));
  core.summary.addRaw(`<p><b>Region</b> ${html(run.region)} · <b>Mode</b> ${run.mode}${run.dryRun ? ' (dry run: nothing changed)' : ''}</p>`, true);
  if (view.alone?.mode === 'create') createSection(view.alone);
  if (view.alone?.mode === 'restore') restoreSection(view.alone);
  if (view.fleet) fleetSection(view.fleet.of, view.fleet.rows);
  captureNote(view.created);
  if (view.copies) copySection(view.copies, run.dryRun);
  if (view.deleted) deleteSection(view.deleted);
  const [first] = view.prunes;
  const deletions = deletionsOf(view);
  // A fleet's prunes, one after each snapshot, in one line; else the one prune in full.
  if (view.fleet && first && deletions) {
    paragraph('Pruned after the snapshots:', `${first.dryRun ? 'would delete' : 'deleted'} ${deletions.length} snapshot(s). ${freed(deletions, first.dryRun)}`);
  } else if (first) pruneSection(first, failure instanceof Refusal ? failure : undefined);
  failureSection(failure, result !== undefined);
  await write();
}

/** The post step's summary: each upload the main step left running, when it ended, and the prune after it. */
export async function reportPost({ result, failure }: Outcome<PostResult>, apiRequests: number): Promise<void> {
  core.summary.addHeading('Uploads finished by the post step', 2);
  table(
    ['Instance', 'Snapshot', 'Status', 'Captured at', 'Uploaded at', 'Size'],
    (result?.uploads ?? []).map((u) => [
      `${u.server.name} (${u.server.id})`,
      `${u.image.name ?? ''} (${u.image.id})`,
      u.image.status,
      u.capturedAt.toISOString(),
      u.uploadedAt?.toISOString() ?? NONE,
      size(u.image.size),
    ]),
  );
  for (const { prune, failure: why } of result?.uploads ?? []) if (prune) pruneSection(prune, why instanceof Refusal ? why : undefined);
  if (failure) paragraph('Failed:', failure.message);
  core.summary.addRaw(`<p>${apiRequests} API requests.</p>`, true);
  await write();
}

// Mode verify: a row per instance (its snapshot booted on a throwaway server, and how it went).

const isVerify = (result: Result | undefined): result is VerifyResult | FleetResult<VerifyResult> =>
  result?.mode === 'verify' || (result?.mode === 'fleet' && result.of === 'verify');

/** One instance's verify, as a row of the `verifications` output (snake_case, as the image properties are). */
function verifyRow({ server, result, failure }: FleetItem<VerifyResult>) {
  return {
    instance_id: server.id,
    instance_name: server.name,
    snapshot_id: result?.image.id ?? failure?.imageId ?? null,
    snapshot_name: result?.image.name ?? null,
    volume_backed: result?.image.volumeBacked ?? null,
    flavor: result?.flavor?.name ?? null,
    result: result?.result ?? 'failed',
    boot_seconds: result?.bootMs === undefined ? null : Number(seconds(result.bootMs)),
    console_matched: result?.consoleMatched ?? null,
    throwaway_server_id: result?.throwawayId ?? null,
    volume_ids: result?.volumeIds ?? [],
    swept: result?.swept ?? [],
    error: failure?.message ?? null,
  };
}

/** The outputs and the summary of a verify: one instance's or a fleet's. */
async function reportVerify(
  result: VerifyResult | FleetResult<VerifyResult>,
  failure: StepError | undefined,
  run: Pick<Settings, 'region' | 'dryRun'>,
): Promise<void> {
  const rows = result.mode === 'fleet' ? result.items.map(verifyRow) : [verifyRow({ server: result.server, result, failure })];
  log.output(Output.Verifications, JSON.stringify(rows));
  if (result.mode === 'verify') {
    log.output(Output.SnapshotId, result.image.id);
    log.output(Output.InstanceId, result.server.id);
    log.output(Output.InstanceName, result.server.name);
  }
  core.summary.addRaw(`<p><b>Region</b> ${html(run.region)} · <b>Mode</b> verify${run.dryRun ? ' (dry run: nothing booted)' : ''}</p>`, true);
  const failed = rows.filter((row) => row.result !== 'passed' && row.result !== 'dry-run').length;
  core.summary.addHeading(`Snapshots booted on a throwaway server${failed ? `: ${failed} failed` : ''}`, 2);
  table(
    ['Instance', 'Snapshot', 'Flavor', 'Result', 'Booted in', 'Console matched', 'Removed first', 'Error'],
    rows.map((row) => [
      `${row.instance_name} (${row.instance_id})`,
      row.snapshot_id ? `${row.snapshot_name ?? ''} (${row.snapshot_id})${row.volume_backed ? ', volume-backed' : ''}` : NONE,
      row.flavor ?? NONE,
      row.result,
      row.boot_seconds === null ? NONE : `${row.boot_seconds} s`,
      row.console_matched === null ? NONE : row.console_matched ? 'yes' : 'no',
      row.swept.join(', ') || NONE,
      row.error ?? '',
    ]),
  );
  if (failure && result.mode === 'fleet') paragraph('Failed:', failure.message);
  await write();
}
