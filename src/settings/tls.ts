import { X509Certificate } from 'node:crypto';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { readBoundedText } from './bounded-file.ts';
import { Input } from '../lib/constants.ts';
import type { Read } from './credentials.ts';
import { log, t } from '../lib/log.ts';
import type { TlsOptions } from '../openstack/client.ts';

/** A CA bundle far bigger than any needs is refused before it is read (Mozilla's whole bundle is about 250 KiB). */
const MAX_BYTES = 4 * 1024 * 1024;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * How every request to the cloud checks its certificate, as the openstack CLI does: `cacert` (or
 * OS_CACERT, or clouds.yaml's `cacert`) is the bundle of CAs trusted, instead of the default ones;
 * `insecure` (or OS_INSECURE, or clouds.yaml's `verify: false`) checks nothing, and wins over cacert.
 * A problem goes to `problems`.
 */
export function readTls(text: Read, problems: string[], cwd = process.cwd(), home = homedir()): TlsOptions {
  const insecure = readInsecure(text, problems);
  const path = text(Input.Cacert, 'OS_CACERT');
  const from = text.from(Input.Cacert, 'OS_CACERT');
  if (insecure) {
    log.warning(
      t`${text.from(Input.Insecure, 'OS_INSECURE')}: TLS certificates are not verified, so anyone in the network path can pose as the cloud and read the password, secrets and tokens sent to it; give the cloud's CA in ${Input.Cacert} instead`,
    );
    // The CLI's rule: insecure is the most aggressive setting, so it wins.
    if (path) log.warning(t`${from} is not used: ${Input.Insecure} wins over it, as in the openstack CLI`);
    return { insecure };
  }
  return path ? { insecure, ca: readBundle(path.replace(/^~(?=$|\/)/, home), from, problems, cwd) } : { insecure };
}

function readInsecure(text: Read, problems: string[]): boolean {
  const raw = text(Input.Insecure, 'OS_INSECURE');
  if (!raw || /^false$/i.test(raw)) return false;
  if (/^true$/i.test(raw)) return true;
  problems.push(`${text.from(Input.Insecure, 'OS_INSECURE')}: "${raw}" is not a boolean; use true or false`);
  return false;
}

/** The PEM certificates of the bundle at `path`, each checked to be one; undefined and a problem when there is none. */
function readBundle(path: string, from: string, problems: string[], cwd: string): string | undefined {
  const file = resolve(cwd, path);
  let pem: string;
  try {
    const read = readBoundedText(file, MAX_BYTES);
    if ('refused' in read) {
      problems.push(
        `${from}: ${file} is ${read.refused === 'too big' ? 'over 4 MiB, more than any bundle of CA certificates needs' : 'not a regular file'}; give a PEM file of CA certificates`,
      );
      return undefined;
    }
    pem = read.text;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(
      `${from}: ${file} ${code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? (error as Error).message})`}; give a PEM file of CA certificates`,
    );
    return undefined;
  }
  const certificates = pem.match(PEM_CERTIFICATE) ?? [];
  const unreadable = certificates.findIndex((certificate) => !parses(certificate));
  if (!certificates.length || unreadable >= 0) {
    problems.push(
      `${from}: ${file} ${certificates.length ? `has a certificate that cannot be read (#${unreadable + 1} of the file)` : 'has no certificate'}; give a PEM file of CA certificates (-----BEGIN CERTIFICATE----- …)`,
    );
    return undefined;
  }
  return certificates.join('\n');
}

function parses(certificate: string): boolean {
  try {
    new X509Certificate(certificate);
    return true;
  } catch {
    return false;
  }
}
