// The facts a benchmark table must carry to be comparable: cores, CPU model, kernel, tool versions.
import { readFile } from 'node:fs/promises';
import { availableParallelism, release, totalmem } from 'node:os';
import { runBounded } from './processes.ts';

export interface MachineFacts {
  nproc: number;
  cpuModel: string;
  kernel: string;
  memoryGb: number;
  versions: Record<string, string>;
}

async function firstLine(argv: string[], pattern: RegExp): Promise<string> {
  try {
    const { stdout, stderr } = await runBounded(argv, 5000);
    const match = pattern.exec(`${stdout}\n${stderr}`);
    return match ? match[1].trim() : 'unknown';
  } catch {
    return 'not installed';
  }
}

/** tools: name → argv printing its version, and the pattern whose group 1 is the version. */
export async function machineFacts(tools: Record<string, [string[], RegExp]> = {}): Promise<MachineFacts> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  const versions: Record<string, string> = { node: process.version };
  for (const [name, [argv, pattern]] of Object.entries(tools)) versions[name] = await firstLine(argv, pattern);
  return {
    nproc: availableParallelism(),
    cpuModel: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1].trim() ?? 'unknown',
    kernel: release(),
    memoryGb: Math.round(totalmem() / 2 ** 30),
    versions,
  };
}

export function describeMachine(facts: MachineFacts): string {
  const tools = Object.entries(facts.versions)
    .map(([name, version]) => `${name} ${version}`)
    .join(', ');
  return `${facts.nproc} CPUs (${facts.cpuModel}), ${facts.memoryGb} GiB, Linux ${facts.kernel}; ${tools}`;
}
