// The benchmark's zone and query files: one zone served identically by Switchyard and Knot.
import { randomBytes } from 'node:crypto';

export const ORIGIN = 'bench.test.';
const HOSTS = 1000;

export function zoneText(): string {
  const lines = [
    `$ORIGIN ${ORIGIN}`,
    '$TTL 3600',
    '@ IN SOA ns1 hostmaster 2024010101 3600 600 604800 300',
    '@ NS ns1',
    '@ NS ns2',
    '@ MX 10 mail',
    '@ TXT "v=spf1 mx -all"',
    'ns1 A 127.0.0.1',
    'ns2 A 127.0.0.2',
    'mail A 192.0.2.25',
    'www CNAME host1',
    '*.wild A 192.0.2.99',
  ];
  for (let i = 0; i < HOSTS; i++) {
    lines.push(`host${i} A 10.${(i >> 8) & 255}.${i & 255}.1`, `host${i} AAAA 2001:db8::${i.toString(16)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Existing names: A, AAAA, MX, TXT and a CNAME, like a busy authoritative zone's traffic. */
export function existingQueries(count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const pick = i % 10;
    if (pick < 6) lines.push(`host${i % HOSTS}.${ORIGIN} A`);
    else if (pick < 8) lines.push(`host${i % HOSTS}.${ORIGIN} AAAA`);
    else if (pick === 8) lines.push(`www.${ORIGIN} A`);
    else lines.push(`${ORIGIN} MX`);
  }
  return `${lines.join('\n')}\n`;
}

/** Random names under the zone: half NXDOMAIN, half wildcard hits (a random-subdomain flood). */
export function randomQueries(count: number): string {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const label = randomBytes(6).toString('hex');
    lines.push(i % 2 === 0 ? `${label}.${ORIGIN} A` : `${label}.wild.${ORIGIN} A`);
  }
  return `${lines.join('\n')}\n`;
}
