// Network namespaces for the diagnostics tests: real links (veth pairs created directly inside the
// namespaces, so the host's network is never touched), routes and forwarding. Names are unique per run;
// remove() deletes everything even after a failed setup. Needs root and `ip` (iproute2).
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

export async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args, { timeout: 10_000 });
  return stdout;
}

export async function inNs(ns: string, command: string, args: string[]): Promise<string> {
  const { stdout } = await run('ip', ['netns', 'exec', ns, command, ...args], { timeout: 10_000 });
  return stdout;
}

export interface Namespaces {
  /** Real names, by the role given to create(). */
  names: Record<string, string>;
  remove(): Promise<void>;
}

/** Fails with a clear message when namespaces cannot be made (not root, no CAP_SYS_ADMIN, no iproute2). */
export async function createNamespaces(roles: string[]): Promise<Namespaces> {
  const tag = randomBytes(3).toString('hex');
  const names: Record<string, string> = {};
  const made: string[] = [];
  const remove = async (): Promise<void> => {
    for (const ns of made.reverse()) await ip('netns', 'del', ns).catch(() => undefined);
  };
  try {
    for (const role of roles) {
      const ns = `sy-diag-${tag}-${role}`;
      await ip('netns', 'add', ns);
      made.push(ns);
      names[role] = ns;
      await ip('-n', ns, 'link', 'set', 'lo', 'up');
      // answer every probe: the default ICMP rate limit (1/s per peer after a burst) would make hops flaky
      // (and the namespace-wide ICMP token bucket, 1000/s with a burst of 50 by default)
      await inNs(ns, 'sysctl', ['-qw', 'net.ipv4.icmp_ratelimit=0', 'net.ipv6.icmp.ratelimit=0', 'net.ipv4.icmp_msgs_per_sec=100000', 'net.ipv4.icmp_msgs_burst=10000']);
    }
  } catch (err) {
    await remove();
    throw new Error(`cannot create network namespaces (these tests need root and iproute2): ${(err as Error).message}`);
  }
  return { names, remove };
}

/**
 * A veth pair between two namespaces with addresses on each end ("198.18.1.1/24", and IPv6 ones with
 * "nodad" so they are usable at once instead of after duplicate address detection).
 */
export async function link(nsA: string, ifA: string, addressA: string | string[], nsB: string, ifB: string, addressB: string | string[]): Promise<void> {
  await ip('-n', nsA, 'link', 'add', ifA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB);
  const add = async (ns: string, dev: string, address: string): Promise<void> => {
    await ip('-n', ns, 'addr', 'add', address, 'dev', dev, ...(address.includes(':') ? ['nodad'] : []));
  };
  for (const address of [addressA].flat()) await add(nsA, ifA, address);
  for (const address of [addressB].flat()) await add(nsB, ifB, address);
  await ip('-n', nsA, 'link', 'set', ifA, 'up');
  await ip('-n', nsB, 'link', 'set', ifB, 'up');
}
