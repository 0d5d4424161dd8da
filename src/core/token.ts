// The one comparison of a secret token (the admin token: the admin API's Bearer credential, and the
// x-switchyard-trace header of the data path): constant time in the token's length, so a timing probe
// learns nothing of how much of a guess was right.
import { timingSafeEqual } from 'node:crypto';

/** Whether `given` is exactly `expected`; false for an empty expected token (no token set never matches). */
export function sameToken(given: string, expected: string | Buffer | undefined): boolean {
  if (expected === undefined || expected.length === 0) return false;
  const a = Buffer.from(given, 'latin1');
  const b = typeof expected === 'string' ? Buffer.from(expected, 'latin1') : expected;
  return a.length === b.length && timingSafeEqual(a, b);
}
