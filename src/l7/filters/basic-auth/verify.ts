// Password checks off the event loop's hot path: bcrypt through bcryptjs's async compare (it yields between
// rounds), scrypt through node:crypto (the libuv pool). Both compare in constant time. bcryptjs is loaded on
// the first bcrypt check, so a worker without basic_auth never loads it.
import { scrypt, timingSafeEqual } from 'node:crypto';
import type { PasswordHash } from './users-file.ts';

export async function verifyPassword(password: string, hash: PasswordHash): Promise<boolean> {
  if (hash.kind === 'bcrypt') {
    const { default: bcrypt } = await import('bcryptjs');
    return bcrypt.compare(password, hash.hash);
  }
  return new Promise((resolve, reject) => {
    scrypt(password, hash.salt, hash.key.length, { N: hash.N, r: hash.r, p: hash.p, maxmem: 300 * 1024 * 1024 }, (err, derived) => {
      if (err) reject(err);
      else resolve(timingSafeEqual(derived, hash.key));
    });
  });
}
