// Runs a demo application server (demo/app/main.ts) as a real child process on port 0 and waits for its
// "listening" log line, which carries the bound port. stop() sends SIGTERM (SIGKILL after a deadline).
import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { createInterface } from 'node:readline';
import path from 'node:path';

export const projectRoot = path.resolve(import.meta.dirname, '..', '..', '..', '..');
const appEntry = path.join(projectRoot, 'demo', 'app', 'main.ts');

export interface AppProcess {
  child: ChildProcess;
  instance: string;
  port: number;
  url(pathname?: string): string;
  /** Every JSON log line printed so far. */
  lines: Record<string, unknown>[];
  /** Resolves with the first log line (printed or future) matching the predicate. */
  waitForLine(predicate: (line: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export interface AppProcessOptions {
  service: 'users' | 'orders' | 'all';
  instance: string;
  dataDir: string;
  env?: NodeJS.ProcessEnv;
  args?: string[];
  timeoutMs?: number;
}

export async function startApp(options: AppProcessOptions): Promise<AppProcess> {
  const child = spawn(
    process.execPath,
    [appEntry, '--service', options.service, '--port', '0', '--instance', options.instance, '--data-dir', options.dataDir, ...(options.args ?? [])],
    { env: { ...process.env, LOG_LEVEL: 'info', ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const lines: Record<string, unknown>[] = [];
  const printed = new EventEmitter();
  let stderr = '';
  child.stderr!.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.instance}: not listening within ${options.timeoutMs ?? 15_000}ms; stderr: ${stderr}`)), options.timeoutMs ?? 15_000);
    createInterface({ input: child.stdout! }).on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text);
      } catch {
        line = { msg: text };
      }
      lines.push(line);
      printed.emit('line');
      if (line.msg === 'listening') {
        clearTimeout(timer);
        resolve(line);
      }
    });
    exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${options.instance}: exited before listening; stderr: ${stderr}; stdout: ${JSON.stringify(lines.slice(-5))}`));
    });
  });

  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  const waitForLine = async (predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 5000): Promise<Record<string, unknown>> => {
    const signal = AbortSignal.timeout(timeoutMs);
    for (let seen = 0; ; ) {
      const found = lines.slice(seen).find(predicate);
      if (found) return found;
      seen = lines.length;
      await once(printed, 'line', { signal });
    }
  };

  let ready: Record<string, unknown>;
  try {
    ready = await listening;
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw err;
  }
  const port = Number(ready.port);
  return { child, instance: options.instance, port, lines, waitForLine, url: (pathname = '/') => `http://127.0.0.1:${port}${pathname}`, stop };
}
