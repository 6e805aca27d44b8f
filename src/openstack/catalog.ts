import { CatalogError } from './errors.ts';

export type Interface = 'public' | 'internal' | 'admin';

interface CatalogEndpoint {
  interface: string;
  region?: string;
  region_id?: string;
  url: string;
}

/** One service of a Keystone token's catalog. */
export interface CatalogEntry {
  type: string;
  endpoints: CatalogEndpoint[];
}

/** The URL of a service (any of `types`) for a region and interface; CatalogError says what the catalog has instead. */
export function findEndpoint(catalog: CatalogEntry[], types: readonly string[], region: string, iface: Interface): string {
  const service = types.join(' or ');
  const primary = types[0] ?? service;
  const services = catalog.filter((entry) => types.includes(entry.type));
  if (services.length === 0) throw new CatalogError('service', service, region, iface, []);
  const regionOf = (endpoint: CatalogEndpoint) => endpoint.region_id ?? endpoint.region ?? '';
  const endpoints = services.flatMap((entry) => entry.endpoints);
  // Region IDs are compared as given first, then case-insensitively (gra11 for GRA11).
  const exact = endpoints.filter((endpoint) => regionOf(endpoint) === region);
  const inRegion = exact.length ? exact : endpoints.filter((endpoint) => regionOf(endpoint).toLowerCase() === region.toLowerCase());
  if (inRegion.length === 0) {
    const regions = [...new Set(catalog.flatMap((entry) => entry.endpoints.map(regionOf)))].filter(Boolean).sort();
    throw new CatalogError('region', primary, region, iface, regions);
  }
  const match = inRegion.find((endpoint) => endpoint.interface === iface);
  if (!match) throw new CatalogError('interface', primary, region, iface, [...new Set(inRegion.map((endpoint) => endpoint.interface))]);
  return match.url.replace(/\/+$/, '');
}

/** The regions with an endpoint of a service (any of `types`) on this interface. */
export function regionsOffering(catalog: CatalogEntry[], types: readonly string[], iface: Interface): string[] {
  const endpoints = catalog.filter((entry) => types.includes(entry.type)).flatMap((entry) => entry.endpoints);
  return [...new Set(endpoints.filter((e) => e.interface === iface).map((e) => e.region_id ?? e.region ?? ''))].filter(Boolean).sort();
}
