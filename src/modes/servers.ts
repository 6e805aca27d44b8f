import { Input } from '../lib/constants.ts';
import type { Compute, Server } from '../openstack/compute.ts';
import { AmbiguousError, NotFoundError } from '../openstack/errors.ts';
import { hasSelector, type Selection } from '../settings/selection.ts';
import { StepError } from './outcome.ts';

/** Exactly one server, named once and by nothing else: the path of one step, one server. */
export const isSingle = (selection: Selection) => selection.names.length === 1 && !hasSelector(selection);

const sameId = (a: string, b: string) => a.replace(/-/g, '').toLowerCase() === b.replace(/-/g, '').toLowerCase();

/**
 * The server, if it is of this project: an admin login is shown any project's server by its ID,
 * so a mistyped UUID could otherwise reach another project's.
 */
export function ofProject(server: Server, projectId: string): Server {
  if (server.projectId === projectId) return server;
  throw new StepError(
    `${Input.Instance}: instance ${server.name} (${server.id}) belongs to project ${server.projectId ?? '(none shown)'}, not to this one (${projectId}), ` +
      `so nothing was done to it or its snapshots. Check the name or ID (a login with the admin role is shown other projects' instances by ID)`,
  );
}

/** The server carries every tag and metadata pair of the selector. */
function matches(server: Server, selection: Selection): boolean {
  return (
    selection.tags.every((tag) => server.tags?.includes(tag)) && Object.entries(selection.metadata).every(([key, value]) => server.metadata[key] === value)
  );
}

/**
 * The servers of the selection, each once: every name matched exactly (none or several is an
 * error before anything is done), plus what the selector picks. One listing serves them all.
 * Each must be of the project `projectId`.
 */
export async function selectServers(compute: Compute, selection: Selection, projectId: string): Promise<Server[]> {
  const [only] = selection.names;
  if (only !== undefined && isSingle(selection)) return [ofProject(await compute.findServer(only), projectId)];
  // Nova filters on tags (all of them) itself; names need the whole listing.
  const query: Record<string, string> = !selection.names.length && selection.tags.length ? { tags: selection.tags.join(',') } : {};
  const listed: Server[] = [];
  for await (const server of compute.servers(query)) listed.push(server);
  if (selection.tags.length && listed.some((server) => server.tags === undefined)) {
    throw new StepError(
      `${Input.InstanceTags}: this Nova shows no server tags (they need microversion 2.26; it answered at ${compute.microversion}); select by ${Input.InstanceMetadata} or by name`,
    );
  }
  const chosen = new Map<string, Server>();
  for (const name of selection.names) {
    const byId = listed.find((server) => sameId(server.id, name));
    const named = byId ? [byId] : listed.filter((server) => server.name === name);
    const [one, ...more] = named;
    if (!one) throw new NotFoundError('server', name);
    if (more.length)
      throw new AmbiguousError(
        'server',
        name,
        named.map((server) => server.id),
      );
    chosen.set(one.id, one);
  }
  if (hasSelector(selection)) {
    const picked = listed.filter((server) => matches(server, selection));
    if (!picked.length && !selection.allowEmpty) {
      const what = [...selection.tags.map((tag) => `tag ${tag}`), ...Object.entries(selection.metadata).map(([k, v]) => `metadata ${k}=${v}`)].join(' and ');
      throw new StepError(
        `No instance has ${what}: check ${Input.InstanceTags} and ${Input.InstanceMetadata}, or set ${Input.AllowEmptySelection}: true if an empty fleet is fine`,
      );
    }
    for (const server of picked) chosen.set(server.id, server);
  }
  return [...chosen.values()].map((server) => ofProject(server, projectId));
}
