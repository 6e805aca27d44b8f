import * as core from '@actions/core';
import { Input, type Mode } from '../lib/constants.ts';
import { parseMetadata } from './metadata.ts';

/**
 * Which servers a create or a restore covers: the names or IDs given (each matched exactly, a
 * line each), and the servers that carry every tag and every metadata pair of the selector.
 */
export interface Selection {
  names: string[];
  /** Nova server tags a server must all have (microversion 2.26). */
  tags: string[];
  /** Server metadata a server must all have (Nova cannot filter on it: matched here). */
  metadata: Record<string, string>;
  /** A selector that matches no server is not an error. */
  allowEmpty: boolean;
}

/** The selection of the inputs; what is wrong goes to `problems`, each naming its input. */
export function readSelection(problems: string[], bool: (name: string, fallback: boolean) => boolean): Selection {
  const names = [
    ...new Set(
      core
        .getInput(Input.Instance)
        .split(/\r?\n/)
        .map((line) => line.trim())
        .filter(Boolean),
    ),
  ];
  const tags = [
    ...new Set(
      core
        .getInput(Input.InstanceTags)
        .split(/[,\n]/)
        .map((tag) => tag.trim())
        .filter(Boolean),
    ),
  ];
  for (const tag of tags)
    if (tag.length > 60 || tag.includes('/')) problems.push(`${Input.InstanceTags}: "${tag}" is not a Nova server tag (at most 60 characters, no "/")`);
  const parsed = parseMetadata(core.getInput(Input.InstanceMetadata), 'server');
  problems.push(...parsed.problems.map((p) => `${Input.InstanceMetadata}: ${p}`));
  return { names, tags, metadata: parsed.metadata, allowEmpty: bool(Input.AllowEmptySelection, false) };
}

/** The selection names more than the one server the name or ID gives. */
export const hasSelector = (selection: Selection) => selection.tags.length > 0 || Object.keys(selection.metadata).length > 0;

/** What is wrong with the selection for this mode: one snapshot named exactly (`exactSnapshot`) is one server's. */
export function selectionProblems(mode: Mode | undefined, selection: Selection, exactSnapshot: boolean): string[] {
  // Mode copy's rules check its selection (settings/copy.ts): an ID, or instances as restore takes them.
  if (mode === 'copy') return [];
  const several = selection.names.length > 1 || hasSelector(selection);
  const given = selection.names.length > 0 || hasSelector(selection);
  // Verify selects as restore does: the instances, each with its own newest snapshot (or the one named).
  if (mode === 'verify')
    return selectionProblems('restore', selection, exactSnapshot).map((p) =>
      p.replace(/mode restore|restore(?= each)/g, (m) => m.replace('restore', 'verify')),
    );
  if (mode === 'create' || mode === 'restore') {
    if (!given && !process.env[`INPUT_${Input.Instance.toUpperCase()}`]?.length) {
      return [
        `${Input.Instance}: required for mode ${mode}: the name or ID of the instance (one a line), or ${Input.InstanceTags} / ${Input.InstanceMetadata} to select instances`,
      ];
    }
    // They add up: a name beside a selector would rebuild every server the selector picks too.
    if (mode === 'restore' && selection.names.length && hasSelector(selection)) {
      const selector = [
        ...(selection.tags.length ? [`${Input.InstanceTags}: ${selection.tags.join(',')}`] : []),
        ...(Object.keys(selection.metadata).length
          ? [
              `${Input.InstanceMetadata}: ${Object.entries(selection.metadata)
                .map(([k, v]) => `${k}=${v}`)
                .join(', ')}`,
            ]
          : []),
      ].join(' and ');
      return [
        `${Input.Instance} and ${Input.InstanceTags} / ${Input.InstanceMetadata}: mode restore takes the instances by name or by selector, not both: they add up, so ${selector} rebuilds every instance it picks besides those named. ` +
          `Give only ${Input.Instance}, or only the selector to restore every instance it picks`,
      ];
    }
    if (mode === 'restore' && several && exactSnapshot) {
      return [
        `${Input.SnapshotId} / ${Input.SnapshotName}: an exact snapshot is one instance's; give one instance, or leave them out (or give a glob) to restore each instance from its own newest snapshot`,
      ];
    }
    return [];
  }
  const problems: string[] = [];
  if (selection.names.length > 1) problems.push(`${Input.Instance}: mode ${mode} takes one instance name or ID (one line)`);
  if (hasSelector(selection) || selection.allowEmpty)
    problems.push(`${Input.InstanceTags}, ${Input.InstanceMetadata}, ${Input.AllowEmptySelection}: only for modes create and restore`);
  return problems;
}
