// The openstack CLI's TLS settings: cacert (OS_CACERT, clouds.yaml cacert) read and checked before
// any request, insecure (OS_INSECURE, clouds.yaml verify: false) that wins over cacert and warns on
// every run, and the words for a certificate no trusted CA signed.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import nock from 'nock';

import { explain } from '../../src/modes/outcome.ts';
import { createHttp } from '../../src/openstack/client.ts';
import { Identity } from '../../src/openstack/identity.ts';
import { loadYamlParser } from '../../src/settings/clouds-yaml.ts';
import { readSettings } from '../../src/settings/settings.ts';
import { AUTH_ORIGIN, AUTH_URL, netError, PASSWORD, PROJECT_ID, useNock } from '../support/nock.ts';
import { captureStdout, clearActionEnv, setInputs, settingsProblems as problems, stdout, freshStepEachTest } from '../support/step.ts';
import { makeTestCa } from '../support/tls.ts';

useNock();

const BASE = { 'auth-url': AUTH_URL, region: 'GRA11', instance: 'web', username: 'ops', password: PASSWORD, 'project-id': PROJECT_ID };

let dir = '';
let caPem = '';
let caFile = '';
// The steps load the YAML parser before readSettings (loadSettings), only when a cloud is named.
before(loadYamlParser);
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'osa-tls-unit-'));
  caPem = makeTestCa().caPem;
  caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, `# a comment, as bundles have\n${caPem}`);
});
after(() => rmSync(dir, { recursive: true, force: true }));
freshStepEachTest();

const warnings = () =>
  stdout()
    .split('\n')
    .filter((line) => line.startsWith('::warning'));

/** A clouds.yaml of one cloud "private" with these top-level and auth lines, read through OS_CLIENT_CONFIG_FILE. */
function cloudsYaml(top: string[], auth: string[] = []): void {
  const file = join(dir, 'clouds.yaml');
  writeFileSync(
    file,
    ['clouds:', '  private:', ...top.map((l) => `    ${l}`), '    auth:', '      username: ops', ...auth.map((l) => `      ${l}`), ''].join('\n'),
  );
  process.env.OS_CLIENT_CONFIG_FILE = file;
}

describe('cacert', () => {
  it('unset: Node verifies against its default CAs, and nothing is said', () => {
    setInputs(BASE);
    assert.deepEqual(readSettings().tls, { insecure: false });
    assert.deepEqual(warnings(), []);
  });

  it('the input: its certificates are the CAs trusted', () => {
    setInputs({ ...BASE, cacert: caFile });
    assert.deepEqual(readSettings().tls, { insecure: false, ca: caPem.trim() });
  });

  it('OS_CACERT, and the cacert of the cloud in clouds.yaml; the input wins, then OS_CACERT, as in the CLI', () => {
    setInputs({ ...BASE, cloud: 'private' });
    cloudsYaml([`cacert: ${join(dir, 'missing-from-yaml.pem')}`]);
    process.env.OS_CACERT = caFile;
    assert.equal(readSettings().tls.ca, caPem.trim());
    process.env.OS_CACERT = join(dir, 'missing-from-env.pem');
    setInputs({ cacert: caFile });
    assert.equal(readSettings().tls.ca, caPem.trim());
    delete process.env.OS_CACERT;
    setInputs({ cacert: '' });
    cloudsYaml([`cacert: ${caFile}`]);
    assert.equal(readSettings().tls.ca, caPem.trim());
  });

  it('a path under ~ is in the home folder, as the CLI expands it', () => {
    const home = process.env.HOME;
    process.env.HOME = dir;
    try {
      setInputs({ ...BASE, cacert: '~/ca.pem' });
      assert.equal(readSettings().tls.ca, caPem.trim());
    } finally {
      process.env.HOME = home;
    }
  });

  it('a path that does not exist, a folder, a file with no certificate or one that is not: bad input naming where it came from', () => {
    const empty = join(dir, 'empty.pem');
    writeFileSync(empty, 'not a certificate\n');
    const broken = join(dir, 'broken.pem');
    writeFileSync(broken, `${caPem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n`);
    const folder = join(dir, 'folder');
    mkdirSync(folder, { recursive: true });
    const cases: [Record<string, string>, Record<string, string>, string][] = [
      [{ cacert: join(dir, 'missing.pem') }, {}, `cacert: ${join(dir, 'missing.pem')} does not exist; give a PEM file of CA certificates`],
      [{ cacert: folder }, {}, `cacert: ${folder} is not a regular file; give a PEM file of CA certificates`],
      [{}, { OS_CACERT: empty }, `OS_CACERT: ${empty} has no certificate; give a PEM file of CA certificates (-----BEGIN CERTIFICATE----- …)`],
      [
        { cacert: broken },
        {},
        `cacert: ${broken} has a certificate that cannot be read (#2 of the file); give a PEM file of CA certificates (-----BEGIN CERTIFICATE----- …)`,
      ],
    ];
    for (const [given, env, problem] of cases) {
      clearActionEnv();
      setInputs({ ...BASE, ...given });
      Object.assign(process.env, env);
      assert.deepEqual(problems(), [problem]);
    }
    clearActionEnv();
    setInputs({ ...BASE, cloud: 'private' });
    cloudsYaml([`cacert: ${empty}`]);
    assert.deepEqual(problems(), [
      `cacert of cloud "private" in clouds.yaml: ${empty} has no certificate; give a PEM file of CA certificates (-----BEGIN CERTIFICATE----- …)`,
    ]);
  });

  it('an unverifiable certificate is explained: the origin, the reason, and cacert to give', async () => {
    nock(AUTH_ORIGIN).post('/v3/auth/tokens').replyWithError(netError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'));
    const error = await new Identity(createHttp({ retryLimit: 0 }), { method: 'application-credential', authUrl: AUTH_URL, id: 'ac', secret: 's' })
      .token()
      .catch((e: unknown) => e);
    assert.equal(
      explain(error, { region: 'GRA11' }),
      `The TLS certificate of ${AUTH_ORIGIN} is not signed by a CA this run trusts (UNABLE_TO_VERIFY_LEAF_SIGNATURE): give the cloud's CA certificates (PEM) in the cacert input (or OS_CACERT, or cacert in clouds.yaml)`,
    );
  });

  it('every request of the client trusts those CAs (Keystone, the catalog endpoints, the OIDC issuer share it)', () => {
    const { https } = createHttp({ tls: { ca: caPem, insecure: false } }).defaults.options;
    assert.equal(https.certificateAuthority, caPem);
    assert.equal(https.rejectUnauthorized, true);
    assert.equal(createHttp({ tls: { insecure: true } }).defaults.options.https.rejectUnauthorized, false);
    assert.notEqual(createHttp().defaults.options.https.rejectUnauthorized, false);
  });
});

describe('insecure', () => {
  const WARNING =
    "TLS certificates are not verified, so anyone in the network path can pose as the cloud and read the password, secrets and tokens sent to it; give the cloud's CA in cacert instead";

  it('the input, OS_INSECURE, or verify: false (or no, as PyYAML reads it) in clouds.yaml: no check, and a warning naming where it came from', () => {
    const cases: [Record<string, string>, Record<string, string>, string[], string][] = [
      [{ insecure: 'true' }, {}, [], 'insecure'],
      [{}, { OS_INSECURE: 'True' }, [], 'OS_INSECURE'],
      [{ cloud: 'private' }, {}, ['verify: false'], 'verify of cloud "private" in clouds.yaml'],
      [{ cloud: 'private' }, {}, ['verify: no'], 'verify of cloud "private" in clouds.yaml'],
    ];
    for (const [given, env, yaml, from] of cases) {
      clearActionEnv();
      captureStdout();
      setInputs({ ...BASE, ...given });
      Object.assign(process.env, env);
      if (yaml.length) cloudsYaml(yaml);
      assert.deepEqual(readSettings().tls, { insecure: true }, from);
      assert.deepEqual(warnings(), [`::warning::${from}: ${WARNING}`]);
    }
  });

  it('false, or verify: true in clouds.yaml: certificates are checked, nothing is said', () => {
    for (const [given, yaml] of [
      [{ insecure: 'false' }, []],
      [{ cloud: 'private' }, ['verify: true']],
    ] as const) {
      clearActionEnv();
      setInputs({ ...BASE, ...given });
      if (yaml.length) cloudsYaml([...yaml]);
      assert.deepEqual(readSettings().tls, { insecure: false });
    }
    assert.deepEqual(warnings(), []);
  });

  it('with cacert: insecure wins, as in the openstack CLI, and the run says cacert is not used', () => {
    setInputs({ ...BASE, insecure: 'true', cacert: join(dir, 'missing.pem') });
    assert.deepEqual(readSettings().tls, { insecure: true });
    assert.deepEqual(warnings(), [`::warning::insecure: ${WARNING}`, '::warning::cacert is not used: insecure wins over it, as in the openstack CLI']);
  });

  it('not a boolean: bad input naming where it came from', () => {
    setInputs({ ...BASE, insecure: 'yes please' });
    assert.deepEqual(problems(), ['insecure: "yes please" is not a boolean; use true or false']);
    clearActionEnv();
    setInputs({ ...BASE, cloud: 'private' });
    cloudsYaml(['verify: sometimes']);
    assert.deepEqual(problems(), ['verify of cloud "private" in clouds.yaml: "sometimes" is not a boolean; use true or false']);
  });
});
