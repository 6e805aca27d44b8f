import { setGlobalProxyFromEnv } from 'node:http';
import { run } from './main.ts';

// got has no proxy support of its own: Node 24's reads HTTP(S)_PROXY and NO_PROXY, as the runner does.
if (['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((name) => process.env[name])) setGlobalProxyFromEnv();

await run();
