// Checks that span sections: names that must exist, names and addresses that must be unique, and keys
// that would validate and then do nothing (inert-keys.ts). The one semantic check of a parsed config,
// shared by `switchyard check`, start and reload through load.ts.
import type { Config } from './schema/index.ts';
import { addressIssues } from './addresses.ts';
import { inertKeyIssues, type Given } from './inert-keys.ts';
import { h3AddonProblem } from '../h3/index.ts';

export interface ConfigIssue {
  path: (string | number)[];
  message: string;
}

/** `given` tells whether the file itself sets a key (the schema has filled in defaults by then). */
export function crossCheck(config: Config, given: Given): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const poolNames = Object.keys(config.pools);
  const knownPools = new Set(poolNames);
  const poolList = poolNames.length > 0 ? poolNames.join(', ') : 'none defined';
  const seenNames = new Map<string, number>();

  config.listeners.forEach((listener, index) => {
    const previous = seenNames.get(listener.name);
    if (previous !== undefined) issues.push({ path: ['listeners', index, 'name'], message: `expected a unique name, got ${listener.name} again (listeners[${previous}])` });
    seenNames.set(listener.name, index);

    if (listener.pool !== undefined && !knownPools.has(listener.pool)) {
      issues.push({ path: ['listeners', index, 'pool'], message: `expected a pool name (${poolList}), got ${listener.pool}` });
    }
    listener.routes?.forEach((route, routeIndex) => {
      if (route.pool !== undefined && !knownPools.has(route.pool)) {
        issues.push({ path: ['listeners', index, 'routes', routeIndex, 'pool'], message: `expected a pool name (${poolList}), got ${route.pool}` });
      }
      if (route.dns !== undefined && config.dns === undefined) {
        issues.push({ path: ['listeners', index, 'routes', routeIndex, 'dns'], message: 'expected a dns: section for a DNS-over-HTTPS route to answer from (zones, pool answers or a resolver)' });
      }
    });
    // `check` refuses what `start` cannot serve: HTTP/3 without its addon (the packages it needs are named)
    if (listener.http3.enabled && listener.protocol === 'https') {
      const problem = h3AddonProblem();
      if (problem !== '') issues.push({ path: ['listeners', index, 'http3'], message: `expected HTTP/3 to be available for http3: true, got: ${problem}` });
    }
    const defaults = listener.tls?.certificates.filter((certificate) => certificate.default).length ?? 0;
    if (defaults > 1) issues.push({ path: ['listeners', index, 'tls', 'certificates'], message: `expected at most one default certificate, got ${defaults}` });
  });

  for (const [name, pool] of Object.entries(config.pools)) {
    if (pool.balance === 'consistent_hash' && !pool.hash_key) {
      issues.push({ path: ['pools', name, 'hash_key'], message: 'expected a hash_key (header:NAME, cookie:NAME, path or ip) for consistent_hash' });
    }
  }

  config.dns?.zones.forEach((zone, zoneIndex) => {
    zone.records.forEach((record, recordIndex) => {
      if (record.pool !== undefined && !knownPools.has(record.pool)) {
        issues.push({ path: ['dns', 'zones', zoneIndex, 'records', recordIndex, 'pool'], message: `expected a pool name (${poolList}), got ${record.pool}` });
      }
    });
  });
  issues.push(...addressIssues(config), ...inertKeyIssues(config, given));
  return issues;
}
