// A network namespace joined to the host by a veth pair (10.200.X.Y/30, owned by the test), so an origin
// can run "on another machine" whose link the test can cut. The host keeps a permanent neighbour entry
// for the far end: with the link down, packets to it are dropped silently (no ARP failure, no ICMP, no
// RST), which is what a dead cable or a black-holing firewall looks like. Needs root and iproute2;
// remove() deletes everything even after a partial setup.
import { execFile } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);

async function ip(...args: string[]): Promise<string> {
  const { stdout } = await run('ip', args, { timeout: 10_000 });
  return stdout;
}

export interface LinkedNamespace {
  ns: string;
  /** The host's end and the namespace's end of the link. */
  hostAddress: string;
  nsAddress: string;
  /** Cuts the link: packets in both directions are dropped. */
  cut(): Promise<void>;
  restore(): Promise<void>;
  remove(): Promise<void>;
}

export async function createLinkedNamespace(): Promise<LinkedNamespace> {
  const tag = randomBytes(3).toString('hex');
  const ns = `sy-res-${tag}`;
  const hostIf = `syr${tag}h`;
  const nsIf = `syr${tag}n`;
  // a random /30 in 10.200.0.0/16 so parallel runs do not collide
  const base = randomInt(0, 64) * 4;
  const third = randomInt(0, 256);
  const hostAddress = `10.200.${third}.${base + 1}`;
  const nsAddress = `10.200.${third}.${base + 2}`;
  let madeNs = false;
  let madeLink = false;
  const remove = async (): Promise<void> => {
    if (madeLink) await ip('link', 'del', hostIf).catch(() => undefined);
    if (madeNs) await ip('netns', 'del', ns).catch(() => undefined);
    madeLink = madeNs = false;
  };
  try {
    await ip('netns', 'add', ns);
    madeNs = true;
    await ip('-n', ns, 'link', 'set', 'lo', 'up');
    await ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf, 'netns', ns);
    madeLink = true;
    await ip('addr', 'add', `${hostAddress}/30`, 'dev', hostIf);
    await ip('-n', ns, 'addr', 'add', `${nsAddress}/30`, 'dev', nsIf);
    await ip('link', 'set', hostIf, 'up');
    await ip('-n', ns, 'link', 'set', nsIf, 'up');
    const [info] = JSON.parse(await ip('-n', ns, '-j', 'link', 'show', nsIf)) as { address: string }[];
    await ip('neigh', 'replace', nsAddress, 'lladdr', info.address, 'dev', hostIf, 'nud', 'permanent');
    const [hostInfo] = JSON.parse(await ip('-j', 'link', 'show', hostIf)) as { address: string }[];
    await ip('-n', ns, 'neigh', 'replace', hostAddress, 'lladdr', hostInfo.address, 'dev', nsIf, 'nud', 'permanent');
  } catch (err) {
    await remove();
    throw new Error(`cannot set up a network namespace (needs root and iproute2): ${(err as Error).message}`);
  }
  return {
    ns,
    hostAddress,
    nsAddress,
    cut: async () => void (await ip('-n', ns, 'link', 'set', nsIf, 'down')),
    restore: async () => void (await ip('-n', ns, 'link', 'set', nsIf, 'up')),
    remove,
  };
}

/** Whether this process may create namespaces (root with iproute2); the reason when not. */
export async function netnsUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root for ip netns';
  try {
    await ip('netns', 'list');
    return undefined;
  } catch (err) {
    return `ip netns does not work here: ${(err as Error).message}`;
  }
}
