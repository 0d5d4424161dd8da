// The running edge's record, <data_dir>/switchyard.run.json: its pid and command line, the config file it
// runs, its admin address and token file — what `switchyard reload` needs to reach it. Written when the edge
// is ready, rewritten when a reload switches the config file, removed on a clean stop. An edge that was
// SIGKILLed leaves it behind, and its pid may by then belong to any process: a reader trusts the record only
// while that pid still runs the very command line the edge recorded (commandLineOf), so it never signals a
// stranger.
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { nodeUtil } from '../core/index.ts';

export const runFileName = 'switchyard.run.json';

export interface RunRecord {
  pid: number;
  /** The process's command line when the edge started (commandLineOf). */
  cmdline: string;
  /** Absolute path of the config file the edge runs: what SIGHUP reloads. */
  config: string;
  admin?: { host: string; port: number; scheme?: 'http' | 'https' };
  /** Absolute path of the admin token file. */
  tokenFile?: string;
  /** Absolute path of admin.tls.cert when the admin API speaks HTTPS: the CLI pins it. */
  adminCert?: string;
}

/** A process's command line (arguments joined by spaces), or undefined when no such process runs. */
export async function commandLineOf(pid: number): Promise<string | undefined> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    return raw.replace(/\0$/, '').split('\0').join(' ');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      try {
        await readFile('/proc/self/cmdline');
      } catch {
        return psCommandLine(pid); // no procfs (macOS, BSD)
      }
    }
    return undefined;
  }
}

async function psCommandLine(pid: number): Promise<string | undefined> {
  try {
    const { stdout } = await nodeUtil.promisify(execFile)('ps', ['-o', 'command=', '-p', String(pid)]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

export async function writeRunFile(dataDir: string, record: Omit<RunRecord, 'pid' | 'cmdline'>): Promise<void> {
  const full: RunRecord = { pid: process.pid, cmdline: (await commandLineOf(process.pid)) ?? '', ...record };
  await writeFile(path.join(dataDir, runFileName), `${JSON.stringify(full)}\n`);
}

export type RunFileVerdict = { ok: true; record: RunRecord } | { ok: false; error: string };

/** Reads the record and checks that it still describes a running edge. */
export async function readRunFile(dataDir: string): Promise<RunFileVerdict> {
  const file = path.join(dataDir, runFileName);
  let record: RunRecord;
  try {
    record = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    return { ok: false, error: `no ${file}: no switchyard runs with data_dir ${dataDir} (a running edge writes its data_dir's ${runFileName}; name that directory with --data-dir)` };
  }
  if (!Number.isInteger(record.pid) || typeof record.cmdline !== 'string' || record.cmdline === '' || typeof record.config !== 'string') {
    return { ok: false, error: `${file}: not a switchyard run record (written by an older version?): restart the edge` };
  }
  const running = await commandLineOf(record.pid);
  if (running !== record.cmdline) {
    return { ok: false, error: `${file} is stale: pid ${record.pid} ${running === undefined ? 'no longer runs' : 'is no longer that switchyard'} (the edge was killed without stopping?)` };
  }
  return { ok: true, record };
}
