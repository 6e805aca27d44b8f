import * as core from '@actions/core';
import { setGlobalProxyFromEnv } from 'node:http';
import { log } from './lib/log.ts';
import { Cloud } from './openstack/cloud.ts';
import type { Settings } from './settings/settings.ts';
import { PROXY_VARIABLES } from './settings/urls.ts';

/** The cloud the settings name, through the runner's proxy if it has one; every token masked. The main and the post step log in so. */
export function openCloud(settings: Settings): Cloud {
  // got has no proxy support of its own: Node 24's reads HTTP(S)_PROXY and NO_PROXY, as the runner does (checked by readSettings).
  if (PROXY_VARIABLES.some((name) => process.env[name])) setGlobalProxyFromEnv();
  return new Cloud({
    credentials: settings.credentials,
    region: settings.region,
    iface: settings.iface,
    tls: settings.tls,
    rateLimit: settings.rateLimit,
    log: { debug: log.debug },
    onToken: core.setSecret,
  });
}
