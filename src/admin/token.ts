// The admin token: read from token_file, generated (32 random bytes, hex, mode 0600) on first start.
// Start-up only; the admin server compares tokens in constant time.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

export async function ensureAdminToken(file: string): Promise<string> {
  try {
    const existing = (await readFile(file, 'utf8')).trim();
    if (existing.length >= 16) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = randomBytes(32).toString('hex');
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return token;
}

export async function readAdminToken(file: string): Promise<string> {
  return (await readFile(file, 'utf8')).trim();
}

/** True when the Authorization header carries the token (Bearer) — constant time in the token's length. */
export function tokenMatches(expected: Buffer, authorization: string | undefined): boolean {
  if (!authorization || !authorization.startsWith('Bearer ')) return false;
  const given = Buffer.from(authorization.slice(7).trim());
  return given.length === expected.length && timingSafeEqual(given, expected);
}
