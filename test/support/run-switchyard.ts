// Runs `switchyard start` as a real process for end-to-end tests: writes the inline YAML to a temp dir,
// waits for the "switchyard ready" log line (which lists the bound addresses, so port 0 works), and
// stops the process (SIGTERM, then SIGKILL after a deadline) when the test is done.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';

export const projectRoot = path.resolve(import.meta.dirname, '..', '..');
export const node24 = process.execPath;
export const cliEntry = path.join(projectRoot, 'src', 'cli', 'main.ts');

export interface ReadyInfo {
  listeners: Record<string, { host: string; port: number }>;
  dns?: { transport: string; host: string; port: number }[];
  admin?: { host: string; port: number };
  /** The dashboard's URL (admin listener + /dashboard). */
  dashboard?: string;
  adminToken?: string;
}

export interface RunningSwitchyard {
  process: ChildProcess;
  dir: string;
  configFile: string;
  ready: ReadyInfo;
  /** Every JSON line the process printed so far (access log and logs). */
  lines: Record<string, unknown>[];
  /** Resolves with the first line (already printed or future) that satisfies the predicate. */
  waitForLine(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  url(listener: string, pathname?: string): string;
  stop(): Promise<number | null>;
}

export interface RunOptions {
  args?: string[];
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Its own process group (leader: the primary), so a test can signal the primary and its workers at once. */
  detached?: boolean;
  /** The program and arguments before `start -c FILE`; default Node 24 running src/cli/main.ts. */
  launcher?: string[];
}

export async function runSwitchyard(yaml: string, options: RunOptions = {}): Promise<RunningSwitchyard> {
  const dir = await mkdtemp(path.join(tmpdir(), 'switchyard-test-'));
  const configFile = path.join(dir, 'switchyard.yaml');
  await writeFile(configFile, yaml);
  const [program, ...prefix] = options.launcher ?? [node24, cliEntry];
  const child = spawn(program, [...prefix, 'start', '-c', configFile, ...(options.args ?? [])], {
    cwd: dir,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<{ predicate: (line: Record<string, unknown>) => boolean; resolve: (line: Record<string, unknown>) => void }>();
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  createInterface({ input: child.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text);
    } catch {
      line = { msg: text };
    }
    lines.push(line);
    for (const waiter of waiters) {
      if (waiter.predicate(line)) {
        waiters.delete(waiter);
        waiter.resolve(line);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const waitForLine = (predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 10_000): Promise<Record<string, unknown>> => {
    const found = lines.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = { predicate, resolve: (line: Record<string, unknown>) => (clearTimeout(timer), resolve(line)) };
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`no matching log line within ${timeoutMs}ms; stderr: ${stderr.slice(-2000)}`));
      }, timeoutMs);
      waiters.add(waiter);
      exited.then((code) => {
        if (waiters.delete(waiter)) {
          clearTimeout(timer);
          reject(new Error(`switchyard exited with ${code} before the expected line; stderr: ${stderr.slice(-2000)}`));
        }
      });
    });
  };

  let readyLine: Record<string, unknown>;
  try {
    readyLine = await waitForLine((line) => line.msg === 'switchyard ready', options.timeoutMs ?? 15_000);
  } catch (err) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  const ready = readyLine as unknown as ReadyInfo;

  return {
    process: child,
    dir,
    configFile,
    ready,
    lines,
    waitForLine,
    url: (listener, pathname = '/') => {
      const address = ready.listeners[listener];
      if (!address) throw new Error(`no listener ${listener} in ${JSON.stringify(ready.listeners)}`);
      return `http://${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}${pathname}`;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        const code = await exited;
        clearTimeout(timer);
        await rm(dir, { recursive: true, force: true });
        return code;
      }
      await rm(dir, { recursive: true, force: true });
      return child.exitCode;
    },
  };
}
