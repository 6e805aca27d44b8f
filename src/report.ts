import * as core from '@actions/core';
import { Output } from './constants.ts';
import type { CreateResult } from './modes/create.ts';
import type { DeleteResult } from './modes/delete.ts';
import type { Deletion } from './modes/deletion.ts';
import type { PruneResult } from './modes/prune.ts';

export type Result = CreateResult | DeleteResult | PruneResult;
type Row = Parameters<typeof core.summary.addTable>[0][number];

/** GitHub keeps at most 1 MiB of summary per step: long prunes show this many rows. */
const MAX_ROWS = 500;

const header = (...cells: string[]): Row => cells.map((data) => ({ data, header: true }));
/** Summary cells are HTML: names and messages come from the cloud and from users. */
const html = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const size = (bytes: number | null | undefined) =>
  bytes === null || bytes === undefined ? '–' : bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;

/** `volume-snapshot-ids` is left to create, where it names the new image's snapshots. */
function deletionOutputs(deletions: Deletion[], withVolumeSnapshots: boolean): void {
  const done = deletions.filter((d) => d.outcome === 'deleted');
  core.setOutput(Output.DeletedImageIds, JSON.stringify(done.map((d) => d.image.id)));
  core.setOutput(Output.DeletedCount, String(done.length));
  if (withVolumeSnapshots) {
    core.setOutput(Output.VolumeSnapshotIds, JSON.stringify(done.flatMap((d) => d.volumeSnapshots.filter((v) => v.outcome === 'deleted').map((v) => v.id))));
  }
}

function createSection(result: CreateResult): void {
  const { image, server } = result;
  core.setOutput(Output.ImageId, image.id);
  core.setOutput(Output.ImageName, image.name);
  core.setOutput(Output.ImageStatus, image.status);
  core.setOutput(Output.ImageSize, image.size === null ? '' : String(image.size));
  core.setOutput(Output.InstanceId, server.id);
  core.setOutput(Output.InstanceName, server.name);
  core.setOutput(Output.VolumeBacked, String(server.volumeBacked));
  core.setOutput(Output.VolumeSnapshotIds, JSON.stringify(result.volumeSnapshotIds));
  core.setOutput(Output.Duration, (result.durationMs / 1000).toFixed(1));
  core.summary.addHeading('Snapshot created', 2).addTable([
    header('Snapshot', 'Image ID', 'Status', 'Instance', 'Size', 'Took'),
    [html(image.name), image.id, image.status, `${html(server.name)} (${server.id})${server.volumeBacked ? ', volume-backed' : ''}`, size(image.size), `${(result.durationMs / 1000).toFixed(1)} s`],
  ]);
  if (result.pruneError) core.summary.addRaw(`<p><b>The prune after the snapshot failed:</b> ${html(result.pruneError)}</p>`, true);
}

function pruneSection(result: PruneResult, withinCreate: boolean): void {
  const deleted = new Map(result.deletions.map((d) => [d.image.id, d]));
  const failed = new Map(result.failures.map((f) => [f.image.id, f.error]));
  core.setOutput(Output.KeptImageIds, JSON.stringify(result.decisions.filter((d) => d.keep).map((d) => d.snapshot.id)));
  deletionOutputs(result.deletions, !withinCreate);
  const doomed = result.decisions.filter((d) => !d.keep).length;
  const verb = result.dryRun ? 'would delete' : 'deleted';
  core.summary
    .addHeading(`Prune${result.dryRun ? ' (dry run)' : ''}`, 2)
    .addRaw(`Policy: ${result.policy}. In scope: ${result.decisions.length}; kept: ${result.decisions.length - doomed}; ${verb}: ${result.refused ? 0 : doomed - result.failures.length}.`, true);
  if (result.refused) core.summary.addRaw(`<p><b>Refused:</b> ${html(result.refused)}</p>`, true);
  const rows: Row[] = result.decisions.slice(0, MAX_ROWS).map((d) => {
    const image = result.images.get(d.snapshot.id)!;
    const fate = d.keep
      ? `kept (${d.reasons.join(', ')})`
      : failed.has(d.snapshot.id)
        ? `failed: ${html(failed.get(d.snapshot.id)!)}`
        : deleted.get(d.snapshot.id)?.outcome === 'deleted' || deleted.get(d.snapshot.id)?.outcome === 'missing'
          ? 'deleted'
          : result.dryRun
            ? 'would delete'
            : 'not deleted';
    return [html(image.name ?? ''), image.id, image.created_at, size(image.size), fate];
  });
  core.summary.addTable([header('Snapshot', 'Image ID', 'Created', 'Size', 'Result'), ...rows]);
  if (result.decisions.length > MAX_ROWS) core.summary.addRaw(`… and ${result.decisions.length - MAX_ROWS} more (see the outputs and the log).`, true);
}

function deleteSection(result: DeleteResult): void {
  deletionOutputs(result.deletions, true);
  core.summary.addHeading('Snapshot deleted', 2);
  if (result.missing) core.summary.addRaw(`Nothing to delete: ${result.missing} was not found.`, true);
  else
    core.summary.addTable([
      header('Snapshot', 'Image ID', 'Volume snapshots deleted'),
      ...result.deletions.map((d): Row => [html(d.image.name ?? ''), d.image.id, d.volumeSnapshots.map((v) => `${v.id} (${v.outcome})`).join(', ') || '–']),
    ]);
}

/** A snapshot that was requested but did not become active: its ID and why, for whoever reads the run. */
export async function reportFailedSnapshot(imageId: string, reason: string): Promise<void> {
  core.setOutput(Output.ImageId, imageId);
  core.summary.addHeading('Snapshot not active', 2).addTable([header('Image ID', 'What happened'), [imageId, reason]]);
  if (process.env.GITHUB_STEP_SUMMARY) await core.summary.write();
}

/** Outputs for later steps, and the job summary. */
export async function report(result: Result, apiRequests: number): Promise<void> {
  core.setOutput(Output.ApiRequests, String(apiRequests));
  if (result.mode === 'create') {
    createSection(result);
    if (result.prune) pruneSection(result.prune, true);
  } else if (result.mode === 'delete') deleteSection(result);
  else pruneSection(result, false);
  // Only on a runner (or a test that gives it a file): summary.write() throws without one.
  if (process.env.GITHUB_STEP_SUMMARY) await core.summary.write();
}
