// Runs the real `switchyard` CLI as a child process (optionally inside a network namespace or as another
// user) and collects its exit code and output; every run is bounded by a timeout.
import { spawn } from 'node:child_process';
import path from 'node:path';

export const projectRoot = path.resolve(import.meta.dirname, '..', '..', '..');
const cliEntry = path.join(projectRoot, 'src', 'cli', 'main.ts');

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Run inside this network namespace (ip netns exec). */
  netns?: string;
  /** Run as this uid/gid with no supplementary groups (setpriv). */
  user?: number;
  timeoutMs?: number;
}

export function switchyard(args: string[], options: CliOptions = {}): Promise<CliRun> {
  let command = process.execPath;
  let argv = [cliEntry, ...args];
  if (options.user !== undefined) {
    argv = [`--reuid=${options.user}`, `--regid=${options.user}`, '--clear-groups', command, ...argv];
    command = 'setpriv';
  }
  if (options.netns) {
    argv = ['netns', 'exec', options.netns, command, ...argv];
    command = 'ip';
  }
  return runProcess(command, argv, options.timeoutMs ?? 30_000);
}

export function runProcess(command: string, args: string[], timeoutMs = 30_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The failure contract: exit code 1 and exactly one line on stderr, naming the layer, no stack trace. */
export function assertOneLineFailure(run: CliRun, layer: string, pattern: RegExp): void {
  const lines = run.stderr.trim().split('\n');
  if (run.code !== 1) throw new Error(`expected exit code 1, got ${run.code}\nstderr: ${run.stderr}`);
  if (lines.length !== 1) throw new Error(`expected one stderr line, got:\n${run.stderr}`);
  if (!lines[0].includes(`: ${layer}: `)) throw new Error(`expected layer ${layer} in ${JSON.stringify(lines[0])}`);
  if (!pattern.test(lines[0])) throw new Error(`expected ${pattern} in ${JSON.stringify(lines[0])}`);
  if (/\n\s+at /.test(run.stderr)) throw new Error(`stack trace in stderr:\n${run.stderr}`);
}
