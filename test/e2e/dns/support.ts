// Helpers for the DNS end-to-end tests: a DNS server started in-process from inline YAML (port 0), and
// the real dig / kdig clients run against it with their output parsed.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseConfigText } from '../../../src/config/index.ts';
import { silentLogger, type Clock } from '../../../src/core/index.ts';
import { createDnsServer, type DnsServer, type PoolAddressSource } from '../../../src/dns/index.ts';

const run = promisify(execFile);

export interface RunningDns {
  server: DnsServer;
  dir: string;
  host: string;
  port: number;
  stop(): Promise<void>;
}

/** Writes `files` into a temp dir, parses the YAML (relative paths resolve there) and starts the server. */
export async function startDns(yaml: string, options: { files?: Record<string, string>; pools?: PoolAddressSource; clock?: Clock } = {}): Promise<RunningDns> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-dns-'));
  for (const [name, text] of Object.entries(options.files ?? {})) await writeFile(path.join(dir, name), text);
  const { config } = parseConfigText(yaml, path.join(dir, 'switchyard.yaml'), dir);
  const server = createDnsServer(config.dns!, { logger: silentLogger(), baseDir: dir, pools: options.pools, clock: options.clock });
  try {
    await server.start();
  } catch (err) {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const udp = server.addresses().find((address) => address.transport === 'udp') ?? server.addresses()[0];
  return {
    server,
    dir,
    host: udp.host,
    port: udp.port,
    async stop() {
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export interface DigResult {
  status: string;
  flags: string[];
  answer: string[][];
  authority: string[][];
  additional: string[][];
  raw: string;
}

/** Runs dig (or kdig) and parses header, flags and sections; records come back as whitespace-split fields. */
export async function dig(target: { host: string; port: number }, args: string[], client: 'dig' | 'kdig' = 'dig'): Promise<DigResult> {
  const base = client === 'dig' ? ['+tries=1', '+time=3'] : ['+retry=0', '+time=3'];
  const { stdout } = await run(client, [`@${target.host}`, '-p', String(target.port), ...base, ...args], { timeout: 15_000 });
  return parseDig(stdout);
}

export function parseDig(text: string): DigResult {
  const status = /status: (\w+)/.exec(text)?.[1] ?? '';
  const flags = (/;; [Ff]lags: ([^;]*);/.exec(text)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const sections: Record<string, string[][]> = { ANSWER: [], AUTHORITY: [], ADDITIONAL: [] };
  let current: string | undefined;
  for (const line of text.split('\n')) {
    const header = /^;; (ANSWER|AUTHORITY|ADDITIONAL) SECTION:/.exec(line);
    if (header) {
      current = header[1];
      continue;
    }
    if (line.trim() === '' || line.startsWith(';')) {
      if (line.trim() === '') current = undefined;
      continue;
    }
    if (current) sections[current].push(splitRecord(line));
  }
  return { status, flags, answer: sections.ANSWER, authority: sections.AUTHORITY, additional: sections.ADDITIONAL, raw: text };
}

/** Splits a record line into fields, keeping quoted strings whole. */
function splitRecord(line: string): string[] {
  return [...line.matchAll(/"(?:[^"\\]|\\.)*"|\S+/g)].map((match) => match[0]);
}

/** Sends one raw message over UDP and resolves with the first datagram back (or rejects after the timeout). */
export async function udpExchange(target: { host: string; port: number }, message: Buffer, timeoutMs = 2000): Promise<Buffer> {
  const dgram = await import('node:dgram');
  const socket = dgram.createSocket('udp4');
  try {
    return await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('udpExchange: no answer')), timeoutMs);
      socket.once('message', (data) => {
        clearTimeout(timer);
        resolve(data);
      });
      socket.send(message, target.port, target.host);
    });
  } finally {
    socket.close();
  }
}
