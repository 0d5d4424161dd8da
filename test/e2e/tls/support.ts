// Helpers for the TLS end-to-end tests: certificates made by the self-signed code under test (one local CA,
// one leaf per host set), a tls.Server wired to a TlsTerminator, and openssl s_client runs.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import type { AddressInfo, Socket } from 'node:net';
import { parseConfigText, type ListenerConfig } from '../../../src/config/index.ts';
import { silentLogger } from '../../../src/core/index.ts';
import { createTlsTerminator, ensureSelfSigned, type TlsTerminator } from '../../../src/tls/index.ts';

export async function tempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** A leaf for `hosts` signed by the CA under `dir` (created on first use); returns its paths. */
export async function makeCert(dir: string, name: string, hosts: string[]) {
  return ensureSelfSigned(dir, name, hosts);
}

/** The https listener config as a user writes it (YAML), validated by the real loader. */
export function listenerFrom(yaml: string, baseDir: string): ListenerConfig {
  const { config } = parseConfigText(yaml, 'test.yaml', baseDir);
  return config.listeners[0];
}

export interface TlsFixture {
  terminator: TlsTerminator;
  server: tls.Server;
  port: number;
  close: () => Promise<void>;
}

/** A TLS server answering each connection with an HTTP/1.0 response "<servername>|<alpn>", then closing. */
export async function startTlsServer(listener: ListenerConfig, dataDir: string, baseDir: string): Promise<TlsFixture> {
  const terminator = createTlsTerminator(listener, { dataDir, baseDir, logger: silentLogger() });
  await terminator.start();
  const server = tls.createServer(terminator.serverOptions(), (socket) => {
    socket.on('error', () => undefined);
    socket.on('data', () => undefined);
    socket.end(`HTTP/1.0 200 OK\r\n\r\n${socket.servername || '-'}|${socket.alpnProtocol || '-'}\n`);
  });
  terminator.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  return {
    terminator,
    server,
    port,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await terminator.stop();
    },
  };
}

export interface ProcessResult {
  code: number | null;
  out: string;
}

export function run(command: string, args: string[], input = '', timeoutMs = 10_000): Promise<ProcessResult> {
  return new Promise((resolve) => {
    const child = execFile(command, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: `${stdout}\n${stderr}` });
    });
    child.stdin?.end(input);
  });
}

export function sClient(port: number, args: string[]): Promise<ProcessResult> {
  return run('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, ...args]);
}
