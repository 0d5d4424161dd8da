// The one comparison of a secret token (the admin token: the admin API's Bearer credential, and the
// x-switchyard-trace header of the data path): constant time in the token's length, so a timing probe
// learns nothing of how much of a guess was right. And the rules an admin token file must meet, shared by
// `switchyard check` (src/config) and the primary that reads the file (src/admin).
import { timingSafeEqual } from 'node:crypto';

/** Whether `given` is exactly `expected`; false for an empty expected token (no token set never matches). */
export function sameToken(given: string, expected: string | Buffer | undefined): boolean {
  if (expected === undefined || expected.length === 0) return false;
  const a = Buffer.from(given, 'latin1');
  const b = typeof expected === 'string' ? Buffer.from(expected, 'latin1') : expected;
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Shortest admin token accepted (the generated one is 32 random bytes written as 64 hex characters). */
export const MIN_ADMIN_TOKEN_BYTES = 32;

/** Why a token file with this mode and content cannot guard the admin API, or undefined when it can. */
export function adminTokenProblem(file: string, mode: number, token: string): string | undefined {
  if ((mode & 0o077) !== 0) {
    return `${file} is accessible by group or others (mode 0${(mode & 0o777).toString(8)}): chmod 600 ${file}, as ssh requires of private keys`;
  }
  const bytes = Buffer.byteLength(token);
  if (bytes < MIN_ADMIN_TOKEN_BYTES) {
    return `${file} holds a ${bytes}-byte token, expected at least ${MIN_ADMIN_TOKEN_BYTES} bytes (remove the file to have a random one generated)`;
  }
  return undefined;
}
