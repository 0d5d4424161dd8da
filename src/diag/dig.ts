// switchyard dig: one query, shown like dig's sections (header, flags, question, answer, authority,
// additional with TTLs, response time and server).
import dns from 'node:dns/promises';
import net from 'node:net';
import type { Packet, RecordType } from 'dns-packet';
import { exchange, type DnsExchange, type DnsTlsOptions } from './dns-client.ts';
import type { DohOptions } from './doh-client.ts';
import { fqdn, headerFlags, optOf, rcodeOf, recordLine, recordView, withoutOpt, type RecordView } from './dns-format.ts';
import { DiagError } from './errors.ts';
import { systemNameserver } from './resolv-conf.ts';

export interface DigOptions {
  name: string;
  type: RecordType;
  /** Address or host name of the server; the first resolv.conf nameserver when absent. */
  server?: string;
  port?: number;
  tcp?: boolean;
  /** DNS over TLS (RFC 7858). */
  tls?: DnsTlsOptions;
  /** DNS over HTTPS (RFC 8484): the URL names the server. */
  https?: DohOptions;
  timeoutMs?: number;
  tries?: number;
}

export interface DigResult {
  server: string;
  port: number;
  transport: DnsExchange['transport'];
  retriedOverTcp: boolean;
  elapsedMs: number;
  when: string;
  responseBytes: number;
  id: number;
  opcode: string;
  status: string;
  flags: string[];
  counts: { query: number; answer: number; authority: number; additional: number };
  edns?: { version: number; udpPayloadSize: number; do: boolean };
  question: { name: string; class: string; type: string }[];
  answer: RecordView[];
  authority: RecordView[];
  additional: RecordView[];
}

/** A host name becomes its first address (system resolver); an address stays as it is. */
export async function serverAddress(server: string): Promise<string> {
  if (net.isIP(server)) return server;
  try {
    return (await dns.lookup(server)).address;
  } catch (err) {
    throw new DiagError('DNS', `cannot resolve server name ${server} (${(err as NodeJS.ErrnoException).code ?? err})`);
  }
}

export function digResult(result: DnsExchange): DigResult {
  const response: Packet = result.response;
  const additionals = response.additionals ?? [];
  const edns = optOf(response);
  return {
    server: result.server,
    port: result.port,
    transport: result.transport,
    retriedOverTcp: result.retriedOverTcp,
    elapsedMs: result.elapsedMs,
    when: new Date().toUTCString(),
    responseBytes: result.responseBytes,
    id: response.id ?? 0,
    opcode: String((response as any).opcode ?? 'QUERY'),
    status: rcodeOf(response),
    flags: headerFlags(response),
    counts: {
      query: response.questions?.length ?? 0,
      answer: response.answers?.length ?? 0,
      authority: response.authorities?.length ?? 0,
      additional: additionals.length,
    },
    edns,
    question: (response.questions ?? []).map((q) => ({ name: fqdn(q.name), class: q.class ?? 'IN', type: q.type })),
    answer: withoutOpt(response.answers).map(recordView),
    authority: withoutOpt(response.authorities).map(recordView),
    additional: withoutOpt(additionals).map(recordView),
  };
}

export async function dig(options: DigOptions): Promise<DigResult> {
  if (options.https) {
    const url = options.https.url;
    const port = Number(url.port) || 443;
    return digResult(await exchange({ name: options.name, type: options.type, server: url.hostname.replace(/^\[|\]$/g, ''), port, https: options.https, timeoutMs: options.timeoutMs }));
  }
  const server = await serverAddress(options.server ?? (await systemNameserver()));
  const result = await exchange({ name: options.name, type: options.type, server, port: options.port ?? (options.tls ? 853 : 53), tcp: options.tcp, tls: options.tls, timeoutMs: options.timeoutMs, tries: options.tries });
  return digResult(result);
}

/** Human output, section for section as dig prints it. */
export function renderDig(result: DigResult, command: string): string {
  const lines = [`; <<>> switchyard dig <<>> ${command}`];
  if (result.retriedOverTcp) lines.push(';; Truncated, retrying in TCP mode.');
  lines.push(
    ';; Got answer:',
    `;; ->>HEADER<<- opcode: ${result.opcode}, status: ${result.status}, id: ${result.id}`,
    `;; flags: ${result.flags.join(' ')}; QUERY: ${result.counts.query}, ANSWER: ${result.counts.answer}, AUTHORITY: ${result.counts.authority}, ADDITIONAL: ${result.counts.additional}`,
  );
  if (result.flags.includes('rd') && !result.flags.includes('ra')) lines.push(';; WARNING: recursion requested but not available');
  if (result.edns) {
    lines.push('', ';; OPT PSEUDOSECTION:', `; EDNS: version: ${result.edns.version}, flags:${result.edns.do ? ' do' : ''}; udp: ${result.edns.udpPayloadSize}`);
  }
  lines.push('', ';; QUESTION SECTION:');
  for (const q of result.question) lines.push(`;${q.name.padEnd(23)} ${q.class.padEnd(4)}${q.type}`);
  const section = (title: string, records: RecordView[]): void => {
    if (records.length === 0) return;
    lines.push('', `;; ${title} SECTION:`, ...records.map(recordLine));
  };
  section('ANSWER', result.answer);
  section('AUTHORITY', result.authority);
  section('ADDITIONAL', result.additional);
  lines.push(
    '',
    `;; Query time: ${result.elapsedMs.toFixed(1)} msec`,
    `;; SERVER: ${result.server}#${result.port}(${result.server}) (${result.transport})`,
    `;; WHEN: ${result.when}`,
    `;; MSG SIZE  rcvd: ${result.responseBytes}`,
    '',
  );
  return lines.join('\n');
}
