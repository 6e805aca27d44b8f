// The project's local OpenStack as a process of its own, for CI's `uses: ./` job: server web-1 in
// GRA7, the demo user's password login printed as one line of JSON once it listens
// ({authUrl, username, password, projectName, region, instance}); it runs until SIGINT or SIGTERM.
import { LocalCloud } from '../test/local-cloud/cloud.ts';

const cloud = await LocalCloud.start({ snapshotSeconds: 3 });
const region = 'GRA7';
const instance = cloud.addServer({ region, name: 'web-1' }).name;
const { username, password, projectName } = cloud.demo;
process.stdout.write(`${JSON.stringify({ authUrl: cloud.authUrl, username, password, projectName, region, instance })}\n`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => void cloud.stop());
