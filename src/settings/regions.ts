import * as core from '@actions/core';
import { Input } from '../lib/constants.ts';

const LINE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/**
 * copy-to-region: one region a line (blank lines and surrounding spaces ignored); undefined when
 * not given. A list given but empty, a name twice or a name no region can have are problems.
 */
export function readCopyRegions(problems: string[]): string[] | undefined {
  const raw = process.env[`INPUT_${Input.CopyToRegion.toUpperCase()}`];
  if (raw === undefined || raw === '') return undefined;
  const regions = core
    .getMultilineInput(Input.CopyToRegion)
    .map((line) => line.trim())
    .filter(Boolean);
  if (!regions.length) {
    problems.push(`${Input.CopyToRegion}: is blank; give the regions to copy the snapshot to, one a line (e.g. SBG5), or leave the input out`);
    return undefined;
  }
  for (const region of regions)
    if (!LINE.test(region)) problems.push(`${Input.CopyToRegion}: "${region}" is not a region name; give one region a line (e.g. SBG5)`);
  const twice = [...new Set(regions.filter((region, i) => regions.indexOf(region) !== i))];
  if (twice.length) problems.push(`${Input.CopyToRegion}: ${twice.join(', ')} given more than once; give each region once`);
  return [...new Set(regions)];
}
