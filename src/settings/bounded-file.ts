import { readFileSync, statSync } from 'node:fs';

/**
 * The text of a configuration file, read only when it is a regular file of at most `maxBytes`:
 * a FIFO or /dev/zero could be read forever, and a huge file costs seconds and gigabytes.
 * Otherwise why it was not read. What fs throws (a missing file) is thrown.
 */
export function readBoundedText(path: string, maxBytes: number): { text: string } | { refused: 'not a regular file' | 'too big' } {
  const stat = statSync(path);
  if (!stat.isFile()) return { refused: 'not a regular file' };
  if (stat.size > maxBytes) return { refused: 'too big' };
  return { text: readFileSync(path, 'utf8') };
}
