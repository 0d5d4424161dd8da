// An origin in its own child process, so a test can kill -9 it (the kernel then closes its sockets as a
// crashed server's would) and start it again on the same port. Optionally started inside a network
// namespace (`ip netns exec`). Outside a namespace the parent anchors the port (bound, not listening:
// test/support/ports.ts) and the child listens with SO_REUSEPORT, so between a kill and a restart the
// port is refused, as a dead server's is, but no other process can take it; a namespace is private. The parent talks to it over stdin/stdout, one JSON line each way.
//
// The origin answers every request 200 with a small text body and `x-origin: NAME`, except:
//   /healthz          500 while the origin is "sick" (setSick), else 200
//   ?bytes=N          streams N bytes of "x" (chunked) in 16 KiB chunks, `pace` ms apart (default 0)
//   ?delay=MS         waits before answering, and says so in `server-timing: app;dur=MS, db;dur=MS/2` (as an
//                     application reports its own time and its database's)
//   ?close_after=MS   closes the connection MS after the response, without announcing it (no
//                     `connection: close`): the keep-alive race, as an upstream with a short timeout causes it
// This file is both the parent's API and, run directly, the child's entry point.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createInterface } from 'node:readline';
import type { AddressInfo } from 'node:net';
import { anchorPort, type PortAnchor } from './ports.ts';

export interface OriginProcessOptions {
  name: string;
  /** Address to bind (default 127.0.0.1). */
  host?: string;
  /** Port to bind (default 0, or the previous port on restart). */
  port?: number;
  /** Run inside this network namespace (needs root). */
  netns?: string;
  /** Start answering 500 on /healthz. */
  sick?: boolean;
  /** How long the origin keeps an idle keep-alive connection open (default 60s). */
  keepAliveTimeout?: number;
}

export interface OriginStats {
  /** Requests received so far, by path (without the query). */
  requests: Record<string, number>;
  /** Requests whose response is still being written. */
  inflight: number;
}

export interface OriginProcess {
  readonly name: string;
  readonly host: string;
  /** The bound port (stays the same across restarts). */
  readonly port: number;
  /** "host:port", the form pool backends use. */
  readonly address: string;
  readonly pid: number | undefined;
  /** kill -9; resolves when the process is gone. */
  kill(): Promise<void>;
  /** Starts a fresh process on the same host and port; resolves when it listens. */
  restart(): Promise<void>;
  setSick(sick: boolean): Promise<void>;
  stats(): Promise<OriginStats>;
  /** Ends the process (SIGKILL) if it runs and gives the port back; safe to call twice. */
  close(): Promise<void>;
}

const CHILD_FLAG = '--origin-process-child';

interface Child {
  process: ChildProcess;
  exited: Promise<void>;
  /** Sends a command; resolves with the child's answer line. */
  ask(command: Record<string, unknown>): Promise<Record<string, unknown>>;
}

function launch(options: OriginProcessOptions, host: string, port: number, reusePort: boolean): Promise<{ child: Child; port: number }> {
  const args = [import.meta.filename, CHILD_FLAG, JSON.stringify({ name: options.name, host, port, reusePort, sick: options.sick ?? false, keepAliveTimeout: options.keepAliveTimeout ?? 60_000 })];
  const command = options.netns ? 'ip' : process.execPath;
  const argv = options.netns ? ['netns', 'exec', options.netns, process.execPath, ...args] : args;
  const proc = spawn(command, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const pending: { resolve: (line: Record<string, unknown>) => void; reject: (err: Error) => void }[] = [];
  // a question asked as the process dies gets an error, never silence
  exited.then(() => {
    for (const waiter of pending.splice(0)) waiter.reject(new Error(`origin ${options.name} exited`));
  });
  const lines = createInterface({ input: proc.stdout! });
  const ask = (command: Record<string, unknown>): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return reject(new Error(`origin ${options.name} is not running`));
      pending.push({ resolve, reject });
      proc.stdin!.write(`${JSON.stringify(command)}\n`);
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`origin ${options.name} did not start within 10s; stderr: ${stderr}`));
    }, 10_000);
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`origin ${options.name} exited before listening; stderr: ${stderr}`));
    });
    lines.on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        return; // not ours (a runtime warning on stdout): ignore
      }
      if (line.listening !== undefined) {
        clearTimeout(timer);
        resolve({ child: { process: proc, exited, ask }, port: line.listening as number });
        return;
      }
      pending.shift()?.resolve(line);
    });
    proc.stdin!.on('error', () => undefined);
  });
}

export async function startOriginProcess(options: OriginProcessOptions): Promise<OriginProcess> {
  const host = options.host ?? '127.0.0.1';
  const anchor: PortAnchor | undefined = options.netns === undefined ? await anchorPort(host, options.port ?? 0) : undefined;
  const first = await launch(options, host, anchor?.port ?? options.port ?? 0, anchor !== undefined).catch(async (err: unknown) => {
    await anchor?.release();
    throw err;
  });
  let child: Child | undefined = first.child;
  const port = first.port;
  let sick = options.sick ?? false;
  const kill = async (): Promise<void> => {
    const current = child;
    child = undefined;
    if (current === undefined) return;
    if (current.process.exitCode === null && current.process.signalCode === null) current.process.kill('SIGKILL');
    await current.exited;
  };
  const running = (): Child => {
    if (child === undefined) throw new Error(`origin ${options.name} is not running`);
    return child;
  };
  return {
    name: options.name,
    host,
    port,
    address: `${host}:${port}`,
    get pid() {
      return child?.process.pid;
    },
    kill,
    async restart() {
      await kill();
      child = (await launch({ ...options, sick }, host, port, anchor !== undefined)).child;
    },
    async setSick(value) {
      sick = value;
      await running().ask({ sick: value });
    },
    async stats() {
      return (await running().ask({ stats: true })) as unknown as OriginStats;
    },
    async close() {
      await kill();
      await anchor?.release();
    },
  };
}

/** The child: an http origin driven by JSON lines on stdin. */
function childMain(settings: { name: string; host: string; port: number; reusePort: boolean; sick: boolean; keepAliveTimeout: number }): void {
  let sick = settings.sick;
  let inflight = 0;
  const requests: Record<string, number> = {};
  const chunk = Buffer.alloc(16 * 1024, 'x');
  const server = http.createServer({ keepAliveTimeout: settings.keepAliveTimeout }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://origin');
    requests[url.pathname] = (requests[url.pathname] ?? 0) + 1;
    inflight++;
    res.on('close', () => inflight--);
    const closeAfter = url.searchParams.get('close_after');
    if (closeAfter !== null) {
      const socket = req.socket;
      res.on('finish', () => setTimeout(() => socket.destroy(), Number(closeAfter)));
    }
    req.resume();
    const delay = Number(url.searchParams.get('delay') ?? 0);
    const answer = (): void => {
      if (res.destroyed) return;
      res.setHeader('x-origin', settings.name);
      if (delay > 0) res.setHeader('server-timing', `db;dur=${(delay / 2).toFixed(1)}, app;dur=${delay.toFixed(1)}`);
      if (url.pathname === '/healthz') {
        const status = sick ? 500 : 200;
        res.writeHead(status, { 'content-type': 'text/plain', 'content-length': sick ? 4 : 2 }).end(sick ? 'sick' : 'ok');
        return;
      }
      const bytes = url.searchParams.get('bytes');
      if (bytes === null) {
        const body = `hello from ${settings.name}\n`;
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }).end(body);
        return;
      }
      let left = Number(bytes);
      const pace = Number(url.searchParams.get('pace') ?? 0);
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const pump = (): void => {
        if (res.destroyed) return;
        if (left <= 0) {
          res.end();
          return;
        }
        const n = Math.min(left, chunk.length);
        left -= n;
        const flushed = res.write(n === chunk.length ? chunk : chunk.subarray(0, n));
        if (pace > 0) setTimeout(pump, pace);
        else if (flushed) setImmediate(pump);
        else res.once('drain', pump);
      };
      pump();
    };
    if (delay > 0) setTimeout(answer, delay);
    else answer();
  });
  server.keepAliveTimeout = settings.keepAliveTimeout;
  createInterface({ input: process.stdin }).on('line', (text) => {
    const command = JSON.parse(text) as { sick?: boolean; stats?: boolean };
    if (command.sick !== undefined) sick = command.sick;
    process.stdout.write(`${JSON.stringify(command.stats ? { requests, inflight } : { ok: true })}\n`);
  });
  // the parent went away: do not outlive it
  process.stdin.on('end', () => process.exit(0));
  server.listen({ port: settings.port, host: settings.host, reusePort: settings.reusePort }, () => {
    process.stdout.write(`${JSON.stringify({ listening: (server.address() as AddressInfo).port })}\n`);
  });
}

if (process.argv[2] === CHILD_FLAG) childMain(JSON.parse(process.argv[3]));
