// Child processes for benchmarks: spawned in their own process group, optionally pinned with taskset,
// and always cleaned up — on normal stop, on SIGINT/SIGTERM/SIGHUP, on an uncaught error, and at exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { createInterface } from 'node:readline';

export interface SpawnOptions {
  /** taskset CPU list ("0", "1", "0-1"); the process and everything it forks inherit it. */
  cpus?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ManagedProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** Recent stderr, for error messages. */
  stderrTail(): string;
  /** Resolves with the first stdout line that matches, rejects on timeout or exit. */
  waitForLine(predicate: (line: string) => boolean, timeoutMs: number): Promise<string>;
}

/**
 * Owns every process a benchmark starts. Each child leads its own process group so that one kill reaches
 * the workers it forked (nginx, cluster workers); the group is what emergency cleanup kills.
 */
export class ProcessSet {
  readonly #running = new Map<number, ManagedProcess>();
  readonly #cleanups = new Set<() => void>();
  #installed = false;

  spawn(name: string, argv: readonly string[], options: SpawnOptions = {}): ManagedProcess {
    this.#installSignalHandlers();
    const full = options.cpus ? ['taskset', '-c', options.cpus, ...argv] : [...argv];
    const child = spawn(full[0], full.slice(1), {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    if (child.pid === undefined) throw new Error(`${name}: could not spawn ${full[0]}`);
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const lines: string[] = [];
    const waiters = new Set<(line: string) => void>();
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (lines.length < 200) lines.push(line);
      for (const waiter of waiters) waiter(line);
    });
    const exited = new Promise<number | string>((resolve) =>
      child.once('exit', (code, signal) => {
        this.#running.delete(child.pid!);
        resolve(code ?? signal ?? 'unknown');
      }),
    );
    const managed: ManagedProcess = {
      name,
      pid: child.pid,
      child,
      exited,
      stderrTail: () => stderr,
      waitForLine: (predicate, timeoutMs) => {
        const found = lines.find(predicate);
        if (found !== undefined) return Promise.resolve(found);
        return new Promise((resolve, reject) => {
          const done = (error: Error | undefined, line?: string): void => {
            clearTimeout(timer);
            waiters.delete(waiter);
            if (error) reject(error);
            else resolve(line!);
          };
          const waiter = (line: string): void => {
            if (predicate(line)) done(undefined, line);
          };
          const timer = setTimeout(() => done(new Error(`${name}: no expected output within ${timeoutMs} ms; stderr: ${stderr.slice(-800)}`)), timeoutMs);
          waiters.add(waiter);
          exited.then((code) => done(new Error(`${name}: exited (${code}) before it was ready; stderr: ${stderr.slice(-800)}`)));
        });
      },
    };
    this.#running.set(child.pid, managed);
    return managed;
  }

  /** Registers a synchronous last-resort cleanup (e.g. signalling a daemon from its pid file). */
  onCleanup(cleanup: () => void): () => void {
    this.#cleanups.add(cleanup);
    return () => this.#cleanups.delete(cleanup);
  }

  /** SIGTERM, then SIGKILL to the whole group after graceMs; resolves once the process has exited. */
  async stop(managed: ManagedProcess, graceMs = 5000): Promise<void> {
    if (!this.#running.has(managed.pid)) return;
    signalGroup(managed.pid, 'SIGTERM', false);
    const timer = setTimeout(() => signalGroup(managed.pid, 'SIGKILL', true), graceMs);
    await managed.exited;
    clearTimeout(timer);
    // Forked workers may outlive a killed leader; the group must be empty afterwards.
    signalGroup(managed.pid, 'SIGKILL', true);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#running.values()].map((managed) => this.stop(managed)));
  }

  /** Synchronous: safe in 'exit' and signal handlers. */
  killAllNow(): void {
    for (const cleanup of this.#cleanups) {
      try {
        cleanup();
      } catch {
        // best effort: the group kill below still runs
      }
    }
    for (const pid of this.#running.keys()) signalGroup(pid, 'SIGKILL', true);
  }

  #installSignalHandlers(): void {
    if (this.#installed) return;
    this.#installed = true;
    process.once('exit', () => this.killAllNow());
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.once(signal, () => {
        process.stderr.write(`\n${signal}: stopping every benchmark process\n`);
        this.killAllNow();
        process.exit(130);
      });
    }
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals, group: boolean): void {
  try {
    process.kill(group ? -pid : pid, signal);
  } catch {
    // already gone
  }
}

/** Runs a short command to completion, killed (whole group) after timeoutMs. */
export function runBounded(argv: readonly string[], timeoutMs: number, options: { env?: NodeJS.ProcessEnv } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true, env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const kill = (): void => signalGroup(child.pid!, 'SIGKILL', true);
    process.once('exit', kill);
    const timer = setTimeout(kill, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      process.off('exit', kill);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      process.off('exit', kill);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Polls a TCP connect until it succeeds (for daemons that print nothing when ready); bounded by timeoutMs. */
export async function waitForPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect({ host, port });
      socket.once('connect', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
}

/** A port that was free a moment ago (for daemons that need a fixed port in their config). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * For a helper process a bench spawns (an origin, a plain proxy): exit with the harness even if it dies
 * without cleaning up (a SIGKILL skips its handlers), and on SIGTERM. `parent` 0: no parent to watch.
 */
export function exitWithParent(parent: number): void {
  if (parent > 0) {
    setInterval(() => {
      try {
        process.kill(parent, 0);
      } catch {
        process.exit(0);
      }
    }, 1000).unref();
  }
  process.on('SIGTERM', () => process.exit(0));
}
