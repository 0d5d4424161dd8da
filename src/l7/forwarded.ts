// Who the client really is. X-Forwarded-For is believed only when the TCP peer is a trusted proxy; then
// the real client is the right-most address of the chain that is not itself trusted. An untrusted peer's
// X-Forwarded-For is dropped, so a client cannot make the origin see a forged address.
import { CidrSet } from '../listener/index.ts';

/** forwarded.trusted_proxies: the ranges whose X-Forwarded-For is believed (src/listener's CidrSet). */
export { CidrSet as TrustedProxies };
type TrustedProxies = CidrSet;

/** "::ffff:127.0.0.1" → "127.0.0.1": the form logs and headers use. */
export function normalizePeer(address: string | undefined): string {
  if (address === undefined) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/**
 * The real client given the incoming X-Forwarded-For chain (already joined, may be '') of a trusted peer:
 * walk from the right, skipping trusted hops; the first untrusted entry is the client; when every entry
 * is trusted the left-most one is. Entries that are not addresses end the walk (they are the client's claim).
 */
export function clientFromChain(chain: string, peer: string, trusted: TrustedProxies): string {
  if (chain.length === 0) return peer;
  const entries = chain.split(',');
  let client = peer;
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i].trim();
    if (entry.length === 0) continue;
    client = entry;
    // an entry that is no address is the client's claim, and ends the walk like an untrusted one
    if (!trusted.contains(entry)) break;
  }
  return client;
}
