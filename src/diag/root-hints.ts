// Root hints: where an iterative walk (dig --trace) starts. Built in from IANA's named.root
// (root-servers.net, addresses as published in 2024); a hints file in the same format may replace them.
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { DiagError } from './errors.ts';

export interface NameServer {
  /** The server's host name, fully qualified ("a.root-servers.net."). */
  name: string;
  address: string;
}

const builtIn: [letter: string, ipv4: string, ipv6: string][] = [
  ['a', '198.41.0.4', '2001:503:ba3e::2:30'],
  ['b', '170.247.170.2', '2801:1b8:10::b'],
  ['c', '192.33.4.12', '2001:500:2::c'],
  ['d', '199.7.91.13', '2001:500:2d::d'],
  ['e', '192.203.230.10', '2001:500:a8::e'],
  ['f', '192.5.5.241', '2001:500:2f::f'],
  ['g', '192.112.36.4', '2001:500:12::d0d'],
  ['h', '198.97.190.53', '2001:500:1::53'],
  ['i', '192.36.148.17', '2001:7fe::53'],
  ['j', '192.58.128.30', '2001:503:c27::2:30'],
  ['k', '193.0.14.129', '2001:7fd::1'],
  ['l', '199.7.83.42', '2001:500:9f::42'],
  ['m', '202.12.27.33', '2001:dc3::35'],
];

export function builtInRootHints(): NameServer[] {
  return builtIn.flatMap(([letter, v4, v6]) => [
    { name: `${letter}.root-servers.net.`, address: v4 },
    { name: `${letter}.root-servers.net.`, address: v6 },
  ]);
}

/** Parses a named.root-style file: "NAME TTL [IN] A|AAAA ADDRESS" lines; ';' starts a comment. */
export function parseRootHints(text: string): NameServer[] {
  const servers: NameServer[] = [];
  for (const line of text.split('\n')) {
    const fields = line.replace(/;.*/, '').trim().split(/\s+/);
    const typeAt = fields.findIndex((field) => field === 'A' || field === 'AAAA');
    if (typeAt < 1 || !net.isIP(fields[typeAt + 1] ?? '')) continue;
    const name = fields[0].endsWith('.') ? fields[0] : `${fields[0]}.`;
    servers.push({ name: name.toLowerCase(), address: fields[typeAt + 1] });
  }
  return servers;
}

export async function loadRootHints(file: string): Promise<NameServer[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new DiagError('DNS', `cannot read root hints ${file} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
  const servers = parseRootHints(text);
  if (servers.length === 0) throw new DiagError('DNS', `root hints ${file} hold no A or AAAA record`);
  return servers;
}
