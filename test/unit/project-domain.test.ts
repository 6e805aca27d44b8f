// project-domain-id (OS_PROJECT_DOMAIN_ID, clouds.yaml project_domain_id): the domain of a project
// given by name, by ID, in the scope Keystone is sent; it wins over the name, as in keystoneauth.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { createHttp } from '../../src/openstack/client.ts';
import { Identity, type Credentials } from '../../src/openstack/identity.ts';
import { loadYamlParser } from '../../src/settings/clouds-yaml.ts';
import { readSettings } from '../../src/settings/settings.ts';
import { AUTH_URL, mockAuth, PASSWORD, PROJECT_ID, useNock } from '../support/nock.ts';
import { clearActionEnv, setInputs, freshStepEachTest } from '../support/step.ts';

useNock();

const BASE = { 'auth-url': AUTH_URL, region: 'GRA11', instance: 'web', username: 'ops', password: PASSWORD, 'project-id': PROJECT_ID };

let dir = '';
// The steps load the YAML parser before readSettings (loadSettings), only when a cloud is named.
before(loadYamlParser);
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'osa-domain-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));
freshStepEachTest();

/** A clouds.yaml of one cloud "private" with these auth lines, read through OS_CLIENT_CONFIG_FILE. */
function cloudsYaml(auth: string[]): void {
  const file = join(dir, 'clouds.yaml');
  writeFileSync(file, ['clouds:', '  private:', '    auth:', ...auth.map((l) => `      ${l}`), ''].join('\n'));
  process.env.OS_CLIENT_CONFIG_FILE = file;
}

describe('project-domain-id', () => {
  const byName = { ...BASE, 'project-id': '', 'project-name': 'web-project' };

  it('the input, OS_PROJECT_DOMAIN_ID, or project_domain_id of the cloud in clouds.yaml', () => {
    const domainId = () => (readSettings().credentials as { projectDomainId?: string }).projectDomainId;
    setInputs(byName);
    assert.equal(domainId(), undefined);
    setInputs({ 'project-domain-id': 'd-input' });
    assert.equal(domainId(), 'd-input');
    clearActionEnv();
    setInputs(byName);
    process.env.OS_PROJECT_DOMAIN_ID = 'd-env';
    assert.equal(domainId(), 'd-env');
    clearActionEnv();
    setInputs({ ...byName, cloud: 'private' });
    cloudsYaml(['project_domain_id: d-yaml']);
    assert.equal(domainId(), 'd-yaml');
  });

  /** The scope of the body Keystone is sent for these credentials. */
  async function scopeSent(credentials: Credentials): Promise<unknown> {
    const bodies: { auth: { scope?: unknown } }[] = [];
    const keystone = mockAuth({ body: (body) => (bodies.push(body as { auth: { scope?: unknown } }), true) });
    await new Identity(createHttp(), credentials).token();
    keystone.done();
    return bodies[0]?.auth.scope;
  }

  const password = {
    method: 'password',
    authUrl: AUTH_URL,
    username: 'ops',
    password: PASSWORD,
    userDomainName: 'Default',
    projectName: 'web-project',
  } as const;

  it('scopes the project by name in the domain of that ID (scope.project.domain.id)', async () => {
    assert.deepEqual(await scopeSent({ ...password, projectDomainName: 'Default', projectDomainId: 'd-0001' }), {
      project: { name: 'web-project', domain: { id: 'd-0001' } },
    });
  });

  it('with project-domain-name too: the ID wins, as in keystoneauth', async () => {
    setInputs({ ...byName, 'project-domain-name': 'projects', 'project-domain-id': 'd-0001' });
    const { credentials } = readSettings();
    assert.deepEqual(await scopeSent(credentials), { project: { name: 'web-project', domain: { id: 'd-0001' } } });
  });

  it('a token login is rescoped the same way', async () => {
    assert.deepEqual(
      await scopeSent({
        method: 'token',
        authUrl: AUTH_URL,
        token: 'gAAAAA-given',
        projectName: 'web-project',
        projectDomainName: 'Default',
        projectDomainId: 'd-0001',
      }),
      {
        project: { name: 'web-project', domain: { id: 'd-0001' } },
      },
    );
  });

  it('a project ID needs no domain: the scope is the ID alone', async () => {
    assert.deepEqual(await scopeSent({ ...password, projectName: undefined, projectId: PROJECT_ID, projectDomainName: 'Default', projectDomainId: 'd-0001' }), {
      project: { id: PROJECT_ID },
    });
  });
});
