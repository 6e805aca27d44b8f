import { MANAGED_BY, Property } from '../../lib/constants.ts';
import { log, t } from '../../lib/log.ts';
import { stepProperties, type StepKey } from '../../lib/step-key.ts';
import type { Server } from '../../openstack/compute.ts';
import type { Image, ImageService } from '../../openstack/image.ts';
import { instancesOf, MARKS } from '../snapshots.ts';

/** Statuses of a snapshot that is or will be usable: a re-run takes it rather than a second one. */
const USABLE = new Set(['active', 'queued', 'saving', 'uploading', 'importing']);

/** The marks a re-run's snapshot must bear, each checked again on the image. */
const CHECKED = ['github_run_id', Property.Job, Property.Step, Property.ManagedBy, Property.InstanceId] as const;
/** The properties a re-run reads: those, the instances' (the action's marks), and the attempt it names in the log. */
const STEP_MARKS = [...MARKS, ...CHECKED, 'github_run_attempt'] as const;

/**
 * The snapshot this step already took of this server in an earlier attempt of the same workflow
 * run (a re-run), if it is still usable: a second one would capture what the deploy after the
 * first attempt left, and become the newest roll-back point. Every mark is checked here again (a
 * listing's filters are only a first cut), and only this project's images count.
 */
export async function earlierAttempt(
  images: ImageService,
  server: Server,
  key: StepKey,
  projectId: string,
): Promise<Image<(typeof STEP_MARKS)[number]> | undefined> {
  const marks: Record<(typeof CHECKED)[number], string> = { ...stepProperties(key), [Property.ManagedBy]: MANAGED_BY, [Property.InstanceId]: server.id };
  const found = (await images.listAll({ ...marks, owner: projectId, sort: 'created_at:desc' }, STEP_MARKS)).filter(
    (image) =>
      image.owner === projectId &&
      USABLE.has(image.status) &&
      instancesOf(image).every((id) => id === server.id) &&
      CHECKED.every((name) => image.properties[name] === marks[name]),
  );
  const [newest] = found;
  if (newest) {
    log.info(
      t`Re-run: snapshot ${newest.id} "${newest.name ?? ''}" of instance ${server.name} was taken by an earlier attempt of this step (run ${key.runId}, job ${key.job}, step ${key.step}; attempt ${String(newest.properties.github_run_attempt ?? '?')}), and is ${newest.status}: reused, no second snapshot taken`,
    );
  }
  return newest;
}
