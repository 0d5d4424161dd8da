// When to order: renewal at two thirds of a certificate's lifetime (or `renew_before` ahead of its end),
// and after a failed attempt a doubling backoff, so a CA that is down or a challenge that cannot be answered
// is not hammered (Let's Encrypt's rate limits count failed validations).

/** First retry after this; then doubled up to maxBackoffMs. */
export const firstBackoffMs = 5_000;
export const maxBackoffMs = 6 * 3600 * 1000;

/**
 * Epoch ms at which a certificate valid [notBefore, notAfter] is renewed. A `renew_before` of half the
 * lifetime or more (a CA that moved to short-lived certificates) falls back to two thirds: renewing at
 * issuance would order again and again.
 */
export function renewalTime(notBefore: number, notAfter: number, renewBeforeMs?: number): number {
  const lifetime = notAfter - notBefore;
  if (renewBeforeMs !== undefined && renewBeforeMs < lifetime / 2) return notAfter - renewBeforeMs;
  return notBefore + (lifetime * 2) / 3;
}

/** Delay before attempt `failures + 1` after `failures` failed ones in a row (≥ 1). */
export function backoffMs(failures: number): number {
  return Math.min(maxBackoffMs, firstBackoffMs * 2 ** Math.max(0, failures - 1));
}

/** Whether a stored certificate can be kept as it is: it names exactly `hosts` and renewal is not due. */
export function keepable(stored: { hosts: readonly string[]; notBefore: number; notAfter: number } | undefined, hosts: readonly string[], now: number, renewBeforeMs?: number): boolean {
  if (stored === undefined) return false;
  const have = new Set(stored.hosts);
  if (have.size !== new Set(hosts).size || hosts.some((host) => !have.has(host))) return false;
  return now < renewalTime(stored.notBefore, stored.notAfter, renewBeforeMs);
}
