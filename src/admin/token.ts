// The admin token: read from token_file, generated (32 random bytes as hex, mode 0600) on first start.
// An existing file must be private to its owner and hold at least 32 bytes (core/token.ts says why not,
// and `switchyard check` runs the same test). Start-up only; the admin server compares in constant time.
import { randomBytes } from 'node:crypto';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { ConfigError, adminTokenProblem, sameToken } from '../core/index.ts';

/** Reads the token, or creates the file (exclusively, mode 0600) with a random one when it is missing. */
export async function ensureAdminToken(file: string): Promise<string> {
  try {
    return await readAdminToken(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = randomBytes(32).toString('hex');
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // 'wx': never overwrite a file another process created meanwhile; the mode applies at creation.
  const handle = await open(file, 'wx', 0o600);
  try {
    await handle.writeFile(`${token}\n`);
  } finally {
    await handle.close();
  }
  return token;
}

/** The token in the file; a ConfigError when the file is readable by others or the token is short. */
export async function readAdminToken(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    const { mode } = await handle.stat();
    const token = (await handle.readFile('utf8')).trim();
    const problem = adminTokenProblem(file, mode, token);
    if (problem) throw new ConfigError([`admin.token_file: ${problem}`]);
    return token;
  } finally {
    await handle.close();
  }
}

const bearer = /^bearer[ \t]+/i;

/**
 * True when the Authorization header carries the token in the Bearer scheme, whose name is
 * case-insensitive (RFC 9110 §11.1) — constant time in the token's length.
 */
export function tokenMatches(expected: Buffer, authorization: string | undefined): boolean {
  const scheme = authorization === undefined ? null : bearer.exec(authorization);
  if (!scheme) return false;
  return sameToken(authorization!.slice(scheme[0].length).trim(), expected);
}
