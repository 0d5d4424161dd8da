// What /proc tells about a running process tree: resident memory (VmRSS, VmHWM) and CPU time.
import { readFile, readdir } from 'node:fs/promises';

export interface MemoryStatus {
  /** Resident set now, in bytes. */
  rss: number;
  /** Peak resident set since the process started ("high water mark"), in bytes. */
  hwm: number;
  /** Anonymous resident memory (heap, stacks) — what a process costs beyond the shared binary's pages. */
  anon: number;
}

/** VmRSS and VmHWM of one process; undefined once it has exited. */
export async function readMemory(pid: number): Promise<MemoryStatus | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024;
    return { rss: kb('VmRSS'), hwm: kb('VmHWM'), anon: kb('RssAnon') };
  } catch {
    return undefined;
  }
}

/** The process and all its descendants (via /proc/PID/task/TID/children), leader first. */
export async function processTree(pid: number): Promise<number[]> {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0 && found.length < 256) {
    const current = queue.shift()!;
    found.push(current);
    let tasks: string[] = [];
    try {
      tasks = await readdir(`/proc/${current}/task`);
    } catch {
      continue;
    }
    for (const task of tasks) {
      try {
        const children = (await readFile(`/proc/${current}/task/${task}/children`, 'utf8')).trim();
        if (children) queue.push(...children.split(/\s+/).map(Number));
      } catch {
        // the task exited meanwhile
      }
    }
  }
  return found;
}

/** The process's name (comm), e.g. "node" or "nginx". */
export async function processName(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/comm`, 'utf8')).trim();
  } catch {
    return '?';
  }
}

const ticksPerSecond = 100; // USER_HZ: 100 on every Linux build this project targets (getconf CLK_TCK)

/** User + system CPU time of one process (all its threads), in seconds; 0 once it has exited. */
export async function readCpuSeconds(pid: number): Promise<number> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the parenthesised comm (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond;
  } catch {
    return 0;
  }
}

/** CPU seconds summed over the given processes. */
export async function treeCpuSeconds(pids: readonly number[]): Promise<number> {
  const each = await Promise.all(pids.map(readCpuSeconds));
  return each.reduce((sum, seconds) => sum + seconds, 0);
}

export interface RssPeak {
  /** Largest VmRSS sampled for any single process of the tree (the busiest worker), bytes. */
  maxProcessRss: number;
  /** Largest VmHWM of any single process when sampling stopped, bytes. */
  maxProcessHwm: number;
  /** Largest sum of VmRSS over the tree, bytes. */
  maxTreeRss: number;
}

/**
 * Samples VmRSS of a fixed set of processes every intervalMs while a load runs. VmHWM catches peaks
 * between samples; VmRSS sums give the whole tree's footprint.
 */
export function sampleRss(pids: readonly number[], intervalMs = 200): { stop(): Promise<RssPeak> } {
  const peak: RssPeak = { maxProcessRss: 0, maxProcessHwm: 0, maxTreeRss: 0 };
  let pending: Promise<void> = Promise.resolve();
  const sample = async (): Promise<void> => {
    const memories = await Promise.all(pids.map(readMemory));
    let tree = 0;
    for (const memory of memories) {
      if (!memory) continue;
      tree += memory.rss;
      peak.maxProcessRss = Math.max(peak.maxProcessRss, memory.rss);
      peak.maxProcessHwm = Math.max(peak.maxProcessHwm, memory.hwm);
    }
    peak.maxTreeRss = Math.max(peak.maxTreeRss, tree);
  };
  const timer = setInterval(() => {
    pending = pending.then(sample);
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await pending;
      await sample();
      return peak;
    },
  };
}

/** Busy CPU seconds of the whole machine (user + nice + system over all CPUs) and time stolen by the hypervisor. */
export async function machineCpuSeconds(): Promise<{ busy: number; steal: number }> {
  const text = await readFile('/proc/stat', 'utf8');
  const fields = /^cpu\s+(.*)$/m.exec(text)![1].trim().split(/\s+/).map(Number);
  return { busy: (fields[0] + fields[1] + fields[2]) / ticksPerSecond, steal: (fields[7] ?? 0) / ticksPerSecond };
}

/** CPU seconds of this process plus its exited, reaped children (wrk runs land here once they end). */
export async function selfAndChildrenCpuSeconds(): Promise<number> {
  const text = await readFile('/proc/self/stat', 'utf8');
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / ticksPerSecond;
}

/**
 * Measures CPU that other processes used while a benchmark ran: machine busy time minus the time of the
 * processes the benchmark owns (given pids, this process and its reaped children). On a shared machine
 * this tells a clean run from one disturbed by someone's build or test suite.
 */
export async function foreignCpuMeter(ownPids: () => readonly number[]): Promise<{ stop(): Promise<{ foreignCores: number; stealCores: number }> }> {
  const startedAt = performance.now();
  const machine = await machineCpuSeconds();
  const own = (await treeCpuSeconds(ownPids())) + (await selfAndChildrenCpuSeconds());
  return {
    async stop() {
      const seconds = (performance.now() - startedAt) / 1000;
      const machineNow = await machineCpuSeconds();
      const ownNow = (await treeCpuSeconds(ownPids())) + (await selfAndChildrenCpuSeconds());
      const foreign = machineNow.busy - machine.busy - (ownNow - own);
      return { foreignCores: Math.max(0, foreign / seconds), stealCores: (machineNow.steal - machine.steal) / seconds };
    },
  };
}

/**
 * Waits (in 1 s steps, at most maxWaitMs) until the machine's busy CPU, less what ownPids use, stays under
 * limitCores for one step. Returns the last measured foreign load; never throws on timeout.
 */
export async function waitForQuietMachine(limitCores: number, maxWaitMs: number, ownPids: () => readonly number[]): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  let foreign = Number.POSITIVE_INFINITY;
  for (let step = 0; step < 1000; step++) {
    const meter = await foreignCpuMeter(ownPids);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    foreign = (await meter.stop()).foreignCores;
    if (foreign <= limitCores || Date.now() >= deadline) break;
  }
  return foreign;
}
