// Reads the users file when the filter is built (config load time, synchronously, once): the format and
// its refusals are core's (htpasswd.ts), shared with the config load's file check.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseUsersText, type PasswordHash } from '../../../core/index.ts';

export type { PasswordHash } from '../../../core/index.ts';

/** Users by name. Throws naming the file and line of the first problem. */
export function readUsersFile(file: string, baseDir: string): Map<string, PasswordHash> {
  const resolved = path.resolve(baseDir, file);
  let text: string;
  try {
    text = readFileSync(resolved, 'utf8');
  } catch (err) {
    throw new Error(`basic_auth: users_file ${resolved}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const users = parseUsersText(text, resolved);
  if (typeof users === 'string') throw new Error(`basic_auth: users_file ${users}`);
  return users;
}
