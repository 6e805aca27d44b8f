import * as core from '@actions/core';
import { Output } from './constants.ts';
import { isoSeconds } from './duration.ts';
import { neutralise, log } from './log.ts';
import type { CreateResult } from './modes/create.ts';
import type { DeleteResult } from './modes/delete.ts';
import type { Result } from './modes/run.ts';
import type { Deletion } from './modes/deletion.ts';
import type { FleetItem, FleetResult } from './modes/fleet.ts';
import type { Outcome } from './modes/outcome.ts';
import type { PruneResult } from './modes/prune.ts';
import type { RestoreResult } from './modes/restore.ts';

/** GitHub keeps at most 1 MiB of summary per step: long prunes show this many rows. */
const MAX_ROWS = 500;

/** Summary text is HTML in Markdown: names and messages come from the cloud and from users, so all of it is escaped here. */
const html = (text: string) =>
  neutralise(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;').replace(/\|/g, '&#124;');
/** A table whose every cell is data. */
const table = (header: string[], rows: string[][]) =>
  core.summary.addTable([header.map((data) => ({ data: html(data), header: true })), ...rows.map((row) => row.map(html))]);
/** A paragraph: `label` is the action's words, `text` is data. */
const paragraph = (label: string, text: string) => core.summary.addRaw(`<p>${label ? `<b>${label}</b> ` : ''}${html(text)}</p>`, true);
const size = (bytes: number | null | undefined) =>
  bytes === null || bytes === undefined ? '–' : bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
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
  core.summary.addHeading(result.dryRun ? 'Snapshot (dry run: not created)' : 'Snapshot created', 2);
  table(
    ['Snapshot', 'Snapshot ID', 'Status', 'Instance', 'Size', 'Took'],
    [[image.name, image.id || '–', image.status, `${server.name} (${server.id})${server.volumeBacked ? ', volume-backed' : ''}`, size(image.size), `${(result.durationMs / 1000).toFixed(1)} s`]],
  );
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
    .addRaw(`Policy: ${html(result.policy)}. In scope: ${result.decisions.length}; kept: ${kept.length}; ${verb}: ${result.refused ? 0 : result.deletions.length}.`, true);
  if (result.refused) paragraph('Refused:', result.refused);
  const fate = (id: string, keep: boolean, reasons: string[]) => {
    if (keep) return `kept (${reasons.join(', ')})`;
    if (held.has(id)) return `kept: ${held.get(id)}`;
    if (failed.has(id)) return `failed: ${failed.get(id)}`;
    const outcome = deleted.get(id)?.outcome;
    if (outcome === 'deleted' || outcome === 'missing') return 'deleted';
    return outcome === 'would-delete' ? 'would delete' : 'not deleted';
  };
  const rows = result.decisions.slice(0, MAX_ROWS).map((d) => {
    const image = result.images.get(d.snapshot.id)!;
    return [image.name ?? '', image.id, isoSeconds(image.createdAt), size(image.size), fate(d.snapshot.id, d.keep, d.reasons)];
  });
  table(['Snapshot', 'Snapshot ID', 'Created', 'Size', 'Result'], rows);
  if (result.decisions.length > MAX_ROWS) core.summary.addRaw(`… and ${result.decisions.length - MAX_ROWS} more (see the outputs and the log).`, true);
}

function deleteSection(result: DeleteResult): void {
  deletionOutputs(result.deletions, true);
  core.summary.addHeading(result.dryRun ? 'Snapshot to delete (dry run: nothing deleted)' : 'Snapshot deleted', 2);
  if (result.missing) core.summary.addRaw(html(`Nothing to delete: ${result.missing} was not found.`), true);
  else {
    const volumes = (d: Deletion) => d.volumeSnapshots.map((v) => `${v.id} (${v.outcome}${v.reason ? `: ${v.reason}` : ''})`).join(', ') || '–';
    table(['Snapshot', 'Snapshot ID', 'Volume snapshots'], result.deletions.map((d) => [d.image.name ?? '', d.image.id, volumes(d)]));
  }
}

const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** What became of one instance, as a row of the `snapshots` output (snake_case, as the image properties are). */
function imageRow({ server, result, failure }: FleetItem) {
  const base = { instance_id: server.id, instance_name: server.name, error: failure?.message ?? null };
  if (result?.mode === 'create') {
    const { image } = result;
    return { ...base, snapshot_id: image.id || null, snapshot_name: image.name, status: image.status, duration_seconds: Number(seconds(result.durationMs)), consistency: result.consistency, downtime_seconds: result.downtimeMs === undefined ? null : Number(seconds(result.downtimeMs)) };
  }
  if (result?.mode === 'restore') {
    return { ...base, snapshot_id: result.image.id, snapshot_name: result.image.name, status: result.server.status, duration_seconds: Number(seconds(result.durationMs)), previous_image_id: result.previousImageId ?? null };
  }
  return { ...base, snapshot_id: failure?.imageId ?? null, snapshot_name: null, status: 'failed', duration_seconds: null };
}

/** A fleet: the `snapshots` output, one summary row per instance, and what the prunes after the snapshots deleted. */
function fleetSection(result: FleetResult): void {
  const rows = result.items.map(imageRow);
  log.output(Output.Snapshots, JSON.stringify(rows));
  const pruned = result.items.flatMap((item) => (item.result?.mode === 'create' && item.result.prune ? [item.result.prune] : []));
  if (pruned.length) {
    deletionOutputs(pruned.flatMap((p) => (p.refused ? [] : p.deletions)), false);
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
    [[`${server.name} (${server.id})`, `${image.name ?? ''} (${image.id})`, result.previousImageId ?? '–', result.backup?.image.id ?? '–', server.status, `${(result.durationMs / 1000).toFixed(1)} s`]],
  );
}

/** Outputs for later steps, and the job summary: what the mode did, and why the step fails if it does. */
export async function report({ result, failure }: Outcome<Result>, apiRequests: number): Promise<void> {
  log.output(Output.ApiRequests, String(apiRequests));
  if (result?.mode === 'create') {
    createSection(result);
    if (result.prune) pruneSection(result.prune, true);
  } else if (result?.mode === 'delete') deleteSection(result);
  else if (result?.mode === 'restore') restoreSection(result);
  else if (result?.mode === 'fleet') fleetSection(result);
  else if (result) pruneSection(result, false);
  if (failure?.imageId && !result) {
    // A snapshot that was requested but did not become active: its ID and why, for whoever reads the run.
    log.output(Output.SnapshotId, failure.imageId);
    core.summary.addHeading('Snapshot not active', 2);
    table(['Snapshot ID', 'What happened'], [[failure.imageId, failure.message]]);
  } else if (failure && result && !(result.mode === 'prune' ? result : result.mode === 'create' ? result.prune : undefined)?.refused) {
    // A refused prune says so in its own section.
    paragraph('Failed:', failure.message);
  }
  // Only on a runner (or a test that gives it a file): summary.write() throws without one.
  if (process.env.GITHUB_STEP_SUMMARY && (result || failure?.imageId)) await core.summary.write();
}
