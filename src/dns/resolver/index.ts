// The resolver behind the resolver link: forwarding to configured upstreams, or iterative from root hints.
import type { LatencyHistogram } from './latency.ts';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, type Clock, type Logger } from '../../core/index.ts';
import type { ResolverConfig } from '../../config/index.ts';
import { RRType } from '../wire/constants.ts';
import { keyOf, ROOT } from '../wire/name.ts';
import type { ResourceRecord } from '../wire/writer.ts';
import { MasterFileError, parseMasterFile } from '../zone/master-file.ts';
import type { AnswerCache } from './cache.ts';
import { Forwarder } from './forwarder.ts';
import { IterativeResolver } from './iterative.ts';
import type { UpstreamServer } from './upstream.ts';

export interface Resolution {
  rcode: number;
  answer: ResourceRecord[];
  authority: ResourceRecord[];
}

export interface Resolver {
  resolve(name: Buffer, qtype: number): Promise<Resolution>;
  /** Queries sent upstream so far (status, tests). */
  readonly upstreamQueries: number;
  /** Time to an answer of each upstream query (status, metrics). */
  readonly upstreamLatency: LatencyHistogram;
  close(): void;
}

export interface ResolverDeps {
  baseDir: string;
  clock: Clock;
  logger: Logger;
  cache: AnswerCache;
}

export async function createResolver(config: ResolverConfig, deps: ResolverDeps): Promise<Resolver> {
  if (config.forward && config.forward.length > 0) return new Forwarder(config.forward, config.timeout);
  if (config.root_hints) return new IterativeResolver(await loadRootHints(path.resolve(deps.baseDir, config.root_hints)), config.timeout, deps.clock, deps.cache);
  throw new ConfigError(['dns.resolver: expected forward or root_hints']);
}

/** Root servers from a hints file in master-file format (`. NS a.root-servers.net.` plus their A/AAAA). */
export async function loadRootHints(file: string): Promise<UpstreamServer[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read root hints: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  let records: ResourceRecord[];
  try {
    records = parseMasterFile(text, file, ROOT, 3_600_000);
  } catch (err) {
    if (err instanceof MasterFileError) throw new ConfigError([err.message]);
    throw err;
  }
  const names = new Set(records.filter((record) => record.type === RRType.NS && record.owner.length === 1).map((record) => keyOf(record.rdata)));
  const servers: UpstreamServer[] = [];
  for (const record of records) {
    if (!names.has(keyOf(record.owner))) continue;
    if (record.type === RRType.A) servers.push({ host: [...record.rdata].join('.'), port: 53 });
  }
  if (servers.length === 0) throw new ConfigError([`${file}: root hints hold no NS records for . with A addresses`]);
  return servers;
}
