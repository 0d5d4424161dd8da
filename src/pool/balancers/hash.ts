// Hashing shared by ip_hash and consistent_hash: a 32-bit FNV-1a over the key's UTF-16 units, finished with
// murmur3's fmix32 so that keys differing in one character land far apart on the ring.
import { EdgeError } from '../../core/index.ts';
import type { BalanceInput } from '../types.ts';

export function fmix32(value: number): number {
  let h = value | 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Unsigned 32-bit hash of a string; no allocation. */
export function hashString(text: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** Reads the value a `hash_key` names from a request; built once per balancer, run per pick. */
export type KeyReader = (input: BalanceInput) => string;

/**
 * `header:NAME` | `cookie:NAME` | `path` | `ip` (default). A request without the header or cookie hashes
 * on its client address instead, so keyless traffic still spreads by client rather than piling onto the one
 * backend that owns the empty string.
 */
export function keyReader(hashKey: string | undefined): KeyReader {
  if (hashKey === undefined || hashKey === 'ip') return (input) => input.clientAddress;
  if (hashKey === 'path') return (input) => input.path;
  if (hashKey.startsWith('header:')) {
    const name = hashKey.slice('header:'.length).toLowerCase();
    return (input) => input.header(name) ?? input.clientAddress;
  }
  if (hashKey.startsWith('cookie:')) {
    const name = hashKey.slice('cookie:'.length);
    return (input) => input.cookie(name) ?? input.clientAddress;
  }
  throw new EdgeError('SY_ERR_CONFIG', `balancer: unknown hash_key ${JSON.stringify(hashKey)}`, { source: 'config' });
}

/** A uniform value in (0, 1) from a 32-bit hash, never 0 or 1 (safe for Math.log). */
export function unitInterval(hash: number): number {
  return (hash + 0.5) / 4294967296;
}
