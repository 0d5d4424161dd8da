// CPU quotas for "equal CPU" comparisons: each process under test runs in its own cgroup with the same
// quota (e.g. 5 ms of CPU per 10 ms period). cgroup v2 (cpu.max) when the cpu controller is there;
// else the v1 cpu controller (cpu.cfs_quota_us / cpu.cfs_period_us) that hybrid hosts still mount.
import { rmdirSync, writeFileSync } from 'node:fs';
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

export interface CpuQuota {
  quotaUs: number;
  periodUs: number;
}

export type CgroupSupport =
  | { kind: 'v2' | 'v1'; root: string }
  | { kind: 'none'; reason: string };

const exists = (file: string): Promise<boolean> =>
  access(file).then(
    () => true,
    () => false,
  );

/** Finds a writable cgroup hierarchy with a CPU controller; says why not when there is none. */
export async function probeCgroupCpu(): Promise<CgroupSupport> {
  for (const root of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    const controllers = await readFile(path.join(root, 'cgroup.controllers'), 'utf8').catch(() => undefined);
    if (controllers === undefined || !controllers.split(/\s+/).includes('cpu')) continue;
    // Children get the cpu controller only when the parent delegates it.
    const subtree = await readFile(path.join(root, 'cgroup.subtree_control'), 'utf8').catch(() => '');
    if (!subtree.split(/\s+/).includes('cpu')) {
      const enabled = await writeFile(path.join(root, 'cgroup.subtree_control'), '+cpu').then(
        () => true,
        () => false,
      );
      if (!enabled) continue;
    }
    if (await canCreate(root)) return { kind: 'v2', root };
  }
  const v1 = '/sys/fs/cgroup/cpu';
  if ((await exists(path.join(v1, 'cpu.cfs_quota_us'))) && (await canCreate(v1))) return { kind: 'v1', root: v1 };
  return { kind: 'none', reason: 'no writable cgroup with a cpu controller (v2 cpu.max or v1 cpu.cfs_quota_us); cgroup fs read-only or not delegated' };
}

async function canCreate(root: string): Promise<boolean> {
  const probe = path.join(root, `switchyard-bench-probe-${process.pid}`);
  try {
    await mkdir(probe);
    await rmdir(probe);
    return true;
  } catch {
    return false;
  }
}

/** One cgroup with a CPU quota; processes join it with add() and leave when remove() runs. */
export class CpuCgroup {
  readonly dir: string;
  readonly #support: { kind: 'v2' | 'v1'; root: string };
  readonly #members = new Set<number>();

  private constructor(support: { kind: 'v2' | 'v1'; root: string }, dir: string) {
    this.#support = support;
    this.dir = dir;
  }

  /** Creates /sys/fs/cgroup[/cpu]/switchyard-bench-<name> with the quota (reused if left over). */
  static async create(support: { kind: 'v2' | 'v1'; root: string }, name: string, quota: CpuQuota): Promise<CpuCgroup> {
    const dir = path.join(support.root, `switchyard-bench-${name}`);
    await mkdir(dir, { recursive: true });
    if (support.kind === 'v2') {
      await writeFile(path.join(dir, 'cpu.max'), `${quota.quotaUs} ${quota.periodUs}`);
    } else {
      // Period first: the kernel refuses a quota larger than an old period allows in some orders.
      await writeFile(path.join(dir, 'cpu.cfs_period_us'), String(quota.periodUs));
      await writeFile(path.join(dir, 'cpu.cfs_quota_us'), String(quota.quotaUs));
    }
    return new CpuCgroup(support, dir);
  }

  /** Moves a process (all its threads) in; children it forks later inherit the group. */
  async add(pid: number): Promise<void> {
    await writeFile(path.join(this.dir, 'cgroup.procs'), String(pid));
    this.#members.add(pid);
  }

  /** Moves the members back to the root group (the quota no longer applies). */
  async release(): Promise<void> {
    for (const pid of this.#members) {
      await writeFile(path.join(this.#support.root, 'cgroup.procs'), String(pid)).catch(() => undefined);
    }
    this.#members.clear();
  }

  /** Releases the members and deletes the group; safe to call twice. */
  async remove(): Promise<void> {
    await this.release();
    const procs = await readFile(path.join(this.dir, 'cgroup.procs'), 'utf8').catch(() => '');
    for (const pid of procs.split(/\s+/).filter(Boolean)) {
      await writeFile(path.join(this.#support.root, 'cgroup.procs'), pid).catch(() => undefined);
    }
    await rmdir(this.dir).catch(() => undefined);
  }

  /** Synchronous last resort for exit and signal handlers: members back to the root, group deleted. */
  removeNow(): void {
    for (const pid of this.#members) {
      try {
        writeFileSync(path.join(this.#support.root, 'cgroup.procs'), String(pid));
      } catch {
        // exited already
      }
    }
    try {
      rmdirSync(this.dir);
    } catch {
      // still has members that are exiting; the next run reuses the group
    }
  }

  /** "cpu.max 5000 10000" or "cpu.cfs_quota_us 5000 / cpu.cfs_period_us 10000", for reports. */
  static describe(support: CgroupSupport, quota: CpuQuota): string {
    if (support.kind === 'none') return `unavailable: ${support.reason}`;
    if (support.kind === 'v2') return `cgroup v2 cpu.max "${quota.quotaUs} ${quota.periodUs}"`;
    return `cgroup v1 cpu.cfs_quota_us=${quota.quotaUs} cpu.cfs_period_us=${quota.periodUs} (no cgroup v2 cpu controller on this host)`;
  }
}
