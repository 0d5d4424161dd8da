// `tls.acme` against the rest of the config: a challenge can only be answered by something this edge
// serves. dns-01 is answered from one of `dns.zones` (the TXT record goes into the zone that holds
// _acme-challenge.<name>); http-01 by the edge's http listeners; tls-alpn-01 by the https listener itself. A host none of its listed challenges can
// prove, or a listed challenge no host can use, is refused at load rather than failing at the CA.
import type { Config } from './schema/index.ts';
import type { ConfigIssue } from './cross-check.ts';
import type { Given } from './inert-keys.ts';

function zoneOrigins(config: Config): string[] {
  return (config.dns?.zones ?? []).map((zone) => zone.origin.toLowerCase().replace(/\.$/, '')).filter((origin) => origin !== '' && origin !== '@');
}

/** The zone origin that answers `_acme-challenge.<host>` (wildcard prefix dropped), longest first; undefined when none. */
export function challengeZoneOf(host: string, origins: readonly string[]): string | undefined {
  const name = `_acme-challenge.${host.replace(/^\*\./, '')}`;
  let best: string | undefined;
  for (const origin of origins) {
    if ((name === origin || name.endsWith(`.${origin}`)) && (best === undefined || origin.length > best.length)) best = origin;
  }
  return best;
}

/** `given`: a challenge the file lists that no host can use is refused; the default list is not. */
export function acmeIssues(config: Config, given: Given): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const origins = zoneOrigins(config);
  const httpListeners = config.listeners.some((listener) => listener.protocol === 'http');
  config.listeners.forEach((listener, index) => {
    const acme = listener.tls?.acme;
    if (acme === undefined) return;
    const at = ['listeners', index, 'tls', 'acme'];
    const dns01 = acme.challenges.includes('dns-01');
    const http01 = acme.challenges.includes('http-01');
    const listed = given([...at, 'challenges']);
    if (listed && dns01 && !acme.hosts.some((host) => challengeZoneOf(host, origins) !== undefined)) {
      issues.push({ path: [...at, 'challenges'], message: `expected a zone in dns.zones holding _acme-challenge.<host> for dns-01, got ${origins.length === 0 ? 'no zones' : `zones ${origins.join(', ')}`} for hosts ${acme.hosts.join(', ')}` });
    }
    if (listed && http01 && !httpListeners) {
      issues.push({ path: [...at, 'challenges'], message: 'expected an http listener to answer http-01 (the CA fetches http://<host>/.well-known/acme-challenge/ on port 80), got none' });
    }
    acme.hosts.forEach((host, hostIndex) => {
      const byDns = dns01 && challengeZoneOf(host, origins) !== undefined;
      const byHttp = http01 && httpListeners && !host.startsWith('*.');
      // tls-alpn-01 is answered by this https listener itself
      const byAlpn = acme.challenges.includes('tls-alpn-01') && !host.startsWith('*.');
      if (!byDns && !byHttp && !byAlpn) {
        issues.push({ path: [...at, 'hosts', hostIndex], message: `expected a challenge this edge can answer for ${host}: ${host.startsWith('*.') ? 'a wildcard needs dns-01 and ' : ''}dns-01 needs a zone holding _acme-challenge.${host.replace(/^\*\./, '')}${host.startsWith('*.') ? '' : ', http-01 an http listener (or list tls-alpn-01)'}` });
      }
    });
  });
  return issues;
}
