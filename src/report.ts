import * as core from '@actions/core';
import { Input, Output, Property } from './lib/constants.ts';
import { isoSeconds } from './lib/duration.ts';
import { neutralise, log } from './lib/log.ts';
import type { CreateResult } from './modes/create/create.ts';
import type { DeleteResult } from './modes/delete/delete.ts';
import type { Result } from './modes/run.ts';
import type { Deletion } from './modes/delete/deletion.ts';
import type { FleetItem, FleetResult } from './modes/fleet.ts';
import type { Outcome } from './modes/outcome.ts';
import type { PostResult } from './modes/post/finish.ts';
import type { PruneResult } from './modes/prune/prune.ts';
import type { RestoreResult } from './modes/restore/restore.ts';
import type { Image } from './openstack/image.ts';
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

/** What was deleted, and what the run chose to delete (under dry run: what it would delete). */
function deletionOutputs(deletions: Deletion[], withVolumeSnapshots: boolean): void {
  const done = deletions.filter((d) => d.outcome === 'deleted');
  log.output(Output.DeletedSnapshotIds, json(done.map((d) => d.image.id)));
  log.output(Output.DeletedCount, String(done.length));
  log.output(Output.PlannedSnapshotIds, json(deletions.map((d) => d.image.id)));
  // `volume-snapshot-ids` is left to create, where it names the new image's snapshots.
  if (withVolumeSnapshots) {
    log.output(Output.VolumeSnapshotIds, json(done.flatMap((d) => d.volumeSnapshots.filter((v) => v.outcome === 'deleted').map((v) => v.id))));
  }
}

function createSection(result: CreateResult): void {
  const { image, server } = result;
  if (image.id) log.output(Output.SnapshotId, image.id);
  log.output(Output.SnapshotName, image.name);
  log.output(Output.SnapshotStatus, image.status);
  log.output(Output.SnapshotSize, image.size === null ? '' : String(image.size));
  log.output(Output.InstanceId, server.id);
  log.output(Output.InstanceName, server.name);
  log.output(Output.VolumeBacked, String(server.volumeBacked));
  log.output(Output.VolumeSnapshotIds, json(result.volumeSnapshotIds));
  log.output(Output.Duration, seconds(result.durationMs));
  log.output(Output.Consistency, result.consistency);
  log.output(Output.DowntimeSeconds, result.downtimeMs === undefined ? '' : seconds(result.downtimeMs));
  log.output(Output.Snapshots, JSON.stringify([imageRow({ server, result })]));
  log.output(Output.CapturedAt, result.capturedAt?.toISOString() ?? '');
  core.summary.addHeading(result.dryRun ? 'Snapshot (dry run: not created)' : 'Snapshot created', 2);
  table(
    ['Snapshot', 'Snapshot ID', 'Status', 'Instance', 'Size', 'Took'],
    [
      [
        image.name,
        image.id || '–',
        image.status,
        `${server.name} (${server.id})${server.volumeBacked ? ', volume-backed' : ''}`,
        size(image.size),
        `${(result.durationMs / 1000).toFixed(1)} s`,
      ],
    ],
  );
  captureNote([result]);
}

/** wait: captured: when each disk was captured, and a plain line when the job goes on before the upload ended. */
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
};

/** Who a snapshot records it is of, by name where a snapshot in scope records the name: the prune table's groups. */
function instanceLabels(images: Iterable<Image>): (image: Image) => string {
  const names = new Map<string, string>();
  for (const { properties } of images) {
    const [id, name] = [properties[Property.InstanceId], properties[Property.InstanceName]];
    if (typeof id === 'string' && typeof name === 'string' && name) names.set(id, name);
  }
  return (image) => image.instances.map((id) => (names.has(id) ? `${names.get(id)} (${id})` : id)).join(', ') || '(none recorded)';
}

/** The space the deleted snapshots took (under dry run: would free), as Glance sizes them. */
function freed(deletions: Deletion[], dryRun: boolean): string {
  const gone = deletions.filter((d) => d.outcome !== 'missing');
  const bytes = gone.reduce((sum, d) => sum + (d.image.size ?? 0), 0);
  const volumes = gone.reduce((sum, d) => sum + d.volumeSnapshots.filter((v) => v.outcome === 'deleted' || v.outcome === 'would-delete').length, 0);
  const unsized = gone.some((d) => d.image.size === null) ? 'at least ' : '';
  return `${dryRun ? 'Would free' : 'Space freed'}: ${unsized}${size(bytes)}${volumes ? `, and ${volumes} volume snapshot(s) (sized by Cinder)` : ''}.`;
}

function pruneSection(result: PruneResult, withinCreate: boolean): void {
  const deleted = new Map(result.deletions.map((d) => [d.image.id, d]));
  const failed = new Map(result.failures.map((f) => [f.image.id, f.error]));
  const held = new Map(result.held.map((h) => [h.image.id, h.reason]));
  const kept = result.decisions.filter((d) => d.keep || held.has(d.snapshot.id));
  log.output(Output.KeptSnapshotIds, json(kept.map((d) => d.snapshot.id)));
  deletionOutputs(result.refused ? [] : result.deletions, !withinCreate);
  const verb = result.dryRun ? 'would delete' : 'deleted';
  core.summary
    .addHeading(`Prune${result.dryRun ? ' (dry run)' : ''}`, 2)
    .addRaw(
      `Policy: ${html(result.policy)}. In scope: ${result.decisions.length}; kept: ${kept.length}; ${verb}: ${result.refused ? 0 : result.deletions.length}.${result.refused ? '' : ` ${html(freed(result.deletions, result.dryRun))}`}`,
      true,
    );
  if (result.refused) paragraph('Refused:', result.refused);
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
  const reasons = new Set(shown.flatMap((d) => (d.keep ? d.reasons : [])));
  const legend = Object.entries(REASONS).filter(([rule]) => reasons.has(rule as Rule));
  if (legend.length)
    core.summary.addRaw(`<p><b>Kept:</b><br>${legend.map(([rule, meaning]) => `<code>${rule}</code>: ${html(meaning)}`).join('<br>')}</p>`, true);
}

function deleteSection(result: DeleteResult): void {
  deletionOutputs(result.deletions, true);
  core.summary.addHeading(result.dryRun ? 'Snapshot to delete (dry run: nothing deleted)' : 'Snapshot deleted', 2);
  if (result.missing) core.summary.addRaw(html(`Nothing to delete: ${result.missing} was not found.`), true);
  else {
    const volumes = (d: Deletion) => d.volumeSnapshots.map((v) => `${v.id} (${v.outcome}${v.reason ? `: ${v.reason}` : ''})`).join(', ') || '–';
    table(
      ['Snapshot', 'Snapshot ID', 'Volume snapshots'],
      result.deletions.map((d) => [d.image.name ?? '', d.image.id, volumes(d)]),
    );
  }
}

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

/** A fleet: the `snapshots` output, one summary row per instance, and what the prunes after the snapshots deleted. */
function fleetSection(result: FleetResult<CreateResult | RestoreResult>): void {
  const rows = result.items.map(imageRow);
  log.output(Output.Snapshots, JSON.stringify(rows));
  const pruned = result.items.flatMap((item) => (item.result?.mode === 'create' && item.result.prune ? [item.result.prune] : []));
  const deletions = pruned.flatMap((p) => (p.refused ? [] : p.deletions));
  if (pruned.length) {
    deletionOutputs(deletions, false);
    log.output(Output.KeptSnapshotIds, json(pruned.flatMap((p) => p.decisions.filter((d) => d.keep).map((d) => d.snapshot.id))));
  }
  const failed = rows.filter((row) => row.error).length;
  core.summary.addHeading(`${result.of === 'create' ? 'Snapshots' : 'Restores'} of ${rows.length} instance(s)${failed ? `: ${failed} failed` : ''}`, 2);
  table(
    ['Instance', 'Snapshot', 'Status', 'Took', result.of === 'create' ? 'Consistency' : 'Ran before', 'Error'],
    rows.map((row) => [
      `${row.instance_name} (${row.instance_id})`,
      row.snapshot_id ? `${row.snapshot_name ?? ''} (${row.snapshot_id})` : '–',
      row.status,
      row.duration_seconds === null ? '–' : `${row.duration_seconds} s`,
      ('consistency' in row ? row.consistency : 'previous_image_id' in row ? row.previous_image_id : null) ?? '–',
      row.error ?? '',
    ]),
  );
  if (result.of === 'create') captureNote(result.items.flatMap((item) => (item.result?.mode === 'create' ? [item.result] : [])));
  const [first] = pruned;
  if (first) {
    const { dryRun } = first;
    paragraph('Pruned after the snapshots:', `${dryRun ? 'would delete' : 'deleted'} ${deletions.length} snapshot(s). ${freed(deletions, dryRun)}`);
  }
}

function restoreSection(result: RestoreResult): void {
  const { image, server } = result;
  log.output(Output.SnapshotId, image.id);
  log.output(Output.SnapshotName, image.name ?? '');
  log.output(Output.PreviousImageId, result.previousImageId ?? '');
  log.output(Output.InstanceId, server.id);
  log.output(Output.InstanceName, server.name);
  log.output(Output.Duration, seconds(result.durationMs));
  log.output(Output.Snapshots, JSON.stringify([imageRow({ server, result })]));
  if (result.backup) log.output(Output.BackupSnapshotId, result.backup.image.id);
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
        `${(result.durationMs / 1000).toFixed(1)} s`,
      ],
    ],
  );
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
  core.summary.addRaw(`<p><b>Region</b> ${html(run.region)} · <b>Mode</b> ${run.mode}${run.dryRun ? ' (dry run: nothing changed)' : ''}</p>`, true);
  if (result?.mode === 'create') {
    createSection(result);
    if (result.prune) pruneSection(result.prune, true);
  } else if (result?.mode === 'delete') deleteSection(result);
  else if (result?.mode === 'restore') restoreSection(result);
  else if (result?.mode === 'fleet') fleetSection(result);
  else if (result) pruneSection(result, false);
  if (failure && !result && !failure.imageId) {
    // Failed before the mode had anything to show (the login, an instance not found): why.
    core.summary.addHeading('Failed', 2);
    paragraph('', failure.message);
  } else if (failure?.imageId && !result) {
    // A snapshot that was requested but did not become active: its ID and why, for whoever reads the run.
    log.output(Output.SnapshotId, failure.imageId);
    core.summary.addHeading('Snapshot not active', 2);
    table(['Snapshot ID', 'What happened'], [[failure.imageId, failure.message]]);
  } else if (failure && result && !(result.mode === 'prune' ? result : result.mode === 'create' ? result.prune : undefined)?.refused) {
    // A refused prune says so in its own section.
    paragraph('Failed:', failure.message);
  }
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
  for (const prune of result?.uploads.flatMap((u) => (u.prune ? [u.prune] : [])) ?? []) pruneSection(prune, true);
  if (failure) paragraph('Failed:', failure.message);
  core.summary.addRaw(`<p>${apiRequests} API requests.</p>`, true);
  await write();
}
