// switchyard dig --trace: an iterative walk from the root hints through each referral to the server that
// answers with authority, one non-recursive query per step (like dig +trace). Name servers without glue are
// found by a nested walk. Every server of the walk is asked on the same port (dig's -p does the same),
// which lets tests stand a whole hierarchy on loopback addresses.
import type { RecordType } from 'dns-packet';
import { exchange, type DnsExchange } from './dns-client.ts';
import { digResult, type DigResult } from './dig.ts';
import { fqdn, recordLine } from './dns-format.ts';
import { DiagError, isDiagError } from './errors.ts';
import type { NameServer } from './root-hints.ts';

export interface DigTraceOptions {
  name: string;
  type: RecordType;
  roots: NameServer[];
  port: number;
  tcp?: boolean;
  timeoutMs?: number;
  /** Prefer IPv4 servers (the default: many hosts have no IPv6 route); IPv6 ones are still tried after. */
  preferIpv4?: boolean;
}

export interface TraceStep extends DigResult {
  zone: string;
  serverName: string;
}

export interface DigTraceResult {
  name: string;
  type: string;
  roots: NameServer[];
  steps: TraceStep[];
}

const MAX_QUERIES = 40;
const SERVERS_PER_ZONE = 3;

interface Walk {
  options: DigTraceOptions;
  queries: number;
}

const inZone = (name: string, zone: string): boolean => zone === '.' || name === zone || name.endsWith(`.${zone}`);
const labels = (name: string): number => (name === '.' ? 0 : name.split('.').length - 1);

export async function digTrace(options: DigTraceOptions): Promise<DigTraceResult> {
  const walk: Walk = { options, queries: 0 };
  const steps = await walkFrom(walk, fqdn(options.name), options.type, options.roots);
  return { name: fqdn(options.name), type: options.type, roots: options.roots, steps };
}

async function ask(walk: Walk, zone: string, servers: NameServer[], name: string, type: RecordType): Promise<{ result: DnsExchange; server: NameServer }> {
  const ordered = walk.options.preferIpv4 === false ? servers : [...servers.filter((s) => !s.address.includes(':')), ...servers.filter((s) => s.address.includes(':'))];
  let lastError: unknown;
  for (const server of ordered.slice(0, SERVERS_PER_ZONE)) {
    if (++walk.queries > MAX_QUERIES) throw new DiagError('DNS', `gave up after ${MAX_QUERIES} queries (referral loop?)`);
    try {
      const result = await exchange({ name, type, server: server.address, port: walk.options.port, recursion: false, tcp: walk.options.tcp, timeoutMs: walk.options.timeoutMs ?? 3000, tries: 1 });
      return { result, server };
    } catch (err) {
      lastError = err;
    }
  }
  const why = isDiagError(lastError) ? lastError.detail : String(lastError);
  throw new DiagError('DNS', `no name server of ${zone} answered (${why})`);
}

async function walkFrom(walk: Walk, name: string, type: RecordType, roots: NameServer[]): Promise<TraceStep[]> {
  const steps: TraceStep[] = [];
  let zone = '.';
  let servers = roots;
  for (;;) {
    const { result, server } = await ask(walk, zone, servers, name, type);
    const step: TraceStep = { ...digResult(result), zone, serverName: server.name };
    steps.push(step);
    const response = result.response;
    if ((response as any).rcode !== 'NOERROR' || (response.answers ?? []).length > 0) return steps;
    const referral = (response.authorities ?? []).filter((record) => record.type === 'NS');
    const child = referral.length > 0 ? fqdn(referral[0].name) : undefined;
    // only a delegation deeper than the current zone and above the name moves the walk forward
    if (!child || !inZone(name, child) || labels(child) <= labels(zone)) return steps;
    const next: NameServer[] = [];
    for (const record of referral) {
      const target = fqdn(String((record as any).data));
      for (const extra of response.additionals ?? []) {
        if ((extra.type === 'A' || extra.type === 'AAAA') && fqdn(extra.name) === target) next.push({ name: target, address: String((extra as any).data) });
      }
    }
    if (next.length === 0) {
      // glueless delegation: find one name server's address by its own walk from the root
      for (const record of referral.slice(0, SERVERS_PER_ZONE)) {
        const target = fqdn(String((record as any).data));
        const found = await walkFrom(walk, target, 'A', roots).catch(() => []);
        const last = found.at(-1);
        for (const answer of last?.answer ?? []) if (answer.type === 'A') next.push({ name: target, address: answer.data });
        if (next.length > 0) break;
      }
    }
    if (next.length === 0) throw new DiagError('DNS', `referral to ${child} names no reachable name server`);
    zone = child;
    servers = next;
  }
}

export function renderDigTrace(result: DigTraceResult, command: string): string {
  const rootNames = [...new Set(result.roots.map((root) => root.name))];
  const lines = [`; <<>> switchyard dig <<>> ${command}`, `;; root hints: ${rootNames.length} server(s), ${result.roots.length} address(es)`, ''];
  for (const step of result.steps) {
    const records = [...step.answer, ...step.authority];
    if (step.status !== 'NOERROR') lines.push(`;; status: ${step.status}`);
    lines.push(...records.map(recordLine));
    const where = `${step.server}#${step.port}(${step.serverName})`;
    lines.push(`;; Received ${step.responseBytes} bytes from ${where} in ${step.elapsedMs.toFixed(1)} ms (zone ${step.zone}, flags: ${step.flags.join(' ')})`, '');
  }
  return lines.join('\n');
}
