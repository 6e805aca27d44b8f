// Standalone local cloud (benchmarks, README quick start):
//
//   node_modules/.bin/node test/local-cloud/server.ts [--port 0] [--snapshot-seconds 2]
//        [--max-microversion 2.93] [--seed-images N] [--token-ttl-seconds 43200]
//        [--image-endpoint-style root|versioned] [--compute-endpoint-style project|plain]
//
// Prints ONE line of JSON on stdout once listening ({url, authUrl, demo, regions, servers}) and runs
// until SIGTERM/SIGINT. Admin API under /_local/ (see admin.ts).
import { parseArgs } from 'node:util';
import { LocalCloud } from './cloud.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'snapshot-seconds': { type: 'string', default: '2' },
    'max-microversion': { type: 'string', default: '2.93' },
    'seed-images': { type: 'string', default: '0' },
    'token-ttl-seconds': { type: 'string', default: '43200' },
    'image-endpoint-style': { type: 'string', default: 'root' },
    'compute-endpoint-style': { type: 'string', default: 'project' },
  },
  strict: true,
});

const num = (name: string, v: string | undefined): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) {
    process.stderr.write(`--${name} must be a non-negative number (got ${v})\n`);
    process.exit(2);
  }
  return n;
};

const imageStyle = values['image-endpoint-style'];
const computeStyle = values['compute-endpoint-style'];
if (imageStyle !== 'root' && imageStyle !== 'versioned') throw new Error('--image-endpoint-style must be root or versioned');
if (computeStyle !== 'project' && computeStyle !== 'plain') throw new Error('--compute-endpoint-style must be project or plain');

const cloud = await LocalCloud.start({
  port: num('port', values.port),
  snapshotSeconds: num('snapshot-seconds', values['snapshot-seconds']),
  maxMicroversion: values['max-microversion']!,
  tokenTtlSeconds: num('token-ttl-seconds', values['token-ttl-seconds']),
  imageEndpointStyle: imageStyle,
  computeEndpointStyle: computeStyle,
});

const web1 = cloud.addServer({ region: 'GRA7', name: 'web-1' });
const db1 = cloud.addServer({ region: 'GRA7', name: 'db-1', volumeBacked: true });
const web1sbg = cloud.addServer({ region: 'SBG5', name: 'web-1' });

const seed = num('seed-images', values['seed-images']);
if (seed > 0) {
  // Hourly snapshots of GRA7 web-1 going back in time, as an earlier run of the action would leave them.
  const now = Date.now();
  cloud.addImages('GRA7', seed, (i) => ({
    name: `web-1-seed-${String(i).padStart(6, '0')}`,
    createdAt: new Date(now - (i + 1) * 3600_000),
    properties: {
      image_type: 'snapshot',
      instance_uuid: web1.id,
      user_id: cloud.demo.userId,
      base_image_ref: web1.imageRef,
      owner_project_name: cloud.demo.projectName,
    },
  }));
}

process.stdout.write(
  `${JSON.stringify({
    url: cloud.url,
    authUrl: cloud.authUrl,
    demo: cloud.demo,
    regions: cloud.regionNames,
    cinderRegions: cloud.cinderRegions,
    servers: [web1, db1, web1sbg].map((s) => ({ id: s.id, name: s.name, region: s.region, volumeBacked: s.volumeBacked })),
  })}\n`,
);

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  void cloud.stop().then(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
