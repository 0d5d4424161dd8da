// The batched UDP addon (native/udp_batch.c: recvmmsg/sendmmsg), found and loaded once per process. Built at
// install like the ICMP addon (native/build.cjs); when it is missing (no compiler at install, another OS)
// the DNS server uses node:dgram, which answers the same, one system call per datagram each way.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface BatchSocket {
  handle: unknown;
  /** batch × slot bytes: datagram i at [i × slot, i × slot + lens[i]). */
  rx: Buffer;
  /** Length of each datagram of the batch; -1 when it was longer than a slot (dropped). */
  lens: Int32Array;
  /** Source address of each datagram of the batch. */
  addresses: string[];
  port: number;
  batch: number;
  slot: number;
}

export interface UdpBatchAddon {
  open(host: string, port: number, ipv6: boolean, onBatch: (count: number) => void): BatchSocket;
  sendBatch(handle: unknown, buffers: readonly Buffer[], slots: Int32Array, count: number): void;
  saveAddress(handle: unknown, slot: number): Buffer;
  sendTo(handle: unknown, buffer: Buffer, address: Buffer): void;
  close(handle: unknown): void;
}

const ADDON = path.join('src', 'dns', 'native', 'build', 'Release', 'switchyard_udp.node');

/** The package root: the nearest directory above this module with a package.json (sources, dist/ and the worker bundle alike). */
function packageRoot(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * The addon, or null when it is not built or does not load (Linux only: recvmmsg). Looked up synchronously
 * when a UDP listener binds (start and reload, never on the query path); require() loads it once.
 */
export function udpBatchAddon(): UdpBatchAddon | null {
  if (process.platform !== 'linux') return null;
  const root = packageRoot();
  const file = root === undefined ? undefined : path.join(root, ADDON);
  if (file === undefined || !existsSync(file)) return null;
  try {
    return createRequire(import.meta.url)(file) as UdpBatchAddon;
  } catch {
    return null;
  }
}
