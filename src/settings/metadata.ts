/** Nova's rules for metadata, of a server as of a createImage (parameter_types.metadata). */
const KEY = /^[a-zA-Z0-9-_:. ]{1,255}$/;
const MAX_VALUE = 255;
/** Glance base attributes and namespaces a property may not take. */
const RESERVED = new Set([
  'id',
  'name',
  'status',
  'container_format',
  'disk_format',
  'size',
  'virtual_size',
  'checksum',
  'created_at',
  'updated_at',
  'visibility',
  'protected',
  'owner',
  'min_ram',
  'min_disk',
  'tags',
  'locations',
  'direct_url',
  'self',
  'file',
  'schema',
  'os_hidden',
  'os_hash_algo',
  'os_hash_value',
  'image_type',
  'instance_uuid',
  'block_device_mapping',
  'bdm_v2',
]);

/**
 * Parse `key=value` lines (blank lines and `#` comments skipped). Returns the pairs and the
 * problems, each naming its line, so all of them are reported at once. An image's properties
 * also may not take Glance's attributes; a server's metadata has only Nova's rules.
 */
export function parseMetadata(
  text: string,
  of: 'image' | 'server',
  reservedByAction: readonly string[] = [],
): { metadata: Record<string, string>; problems: string[] } {
  const metadata: Record<string, string> = {};
  const problems: string[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    const where = `line ${index + 1} ("${line.length > 40 ? `${line.slice(0, 40)}…` : line}")`;
    const eq = line.indexOf('=');
    if (eq < 0) {
      problems.push(`${where} is not key=value`);
      return;
    }
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (!KEY.test(key)) problems.push(`${where}: the key must be 1 to 255 of the characters a-z A-Z 0-9 - _ : . and space`);
    else if (of === 'image' && (RESERVED.has(key) || key.startsWith('os_glance')))
      problems.push(`${where}: "${key}" is an image attribute OpenStack sets itself`);
    else if (reservedByAction.includes(key)) problems.push(`${where}: "${key}" is set by this action itself`);
    else if (value.length > MAX_VALUE) problems.push(`${where}: the value is ${value.length} characters long, Nova takes at most ${MAX_VALUE}`);
    else if (key in metadata) problems.push(`${where}: "${key}" is given twice`);
    else metadata[key] = value;
  });
  return { metadata, problems };
}
