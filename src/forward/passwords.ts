// Proxy-Authorization (Basic) against a password file. Format: one `user:hash` per line, `#` comments and
// blank lines ignored, the hash in PHC string form for scrypt (node:crypto):
//   alice:$scrypt$ln=14,r=8,p=1$<salt, base64 without padding>$<key, base64 without padding>
// (ln is log2 of scrypt's N). `switchyard passwd USER` makes such a line. A verified credential is
// remembered by its header value so a keep-alive client costs one scrypt per process, not one per request;
// a wrong one costs a full scrypt every time, on the thread pool (never on the event loop).
import crypto from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../core/index.ts';

interface Entry {
  ln: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

/** What a name that is not in the file is checked against (never matches: no password derives an all-zero key). */
const UNKNOWN_USER: Entry = { ln: 14, r: 8, p: 1, salt: Buffer.alloc(16), key: Buffer.alloc(32) };

/** Verified header values remembered at once; past it the memo starts over. */
const VERIFIED_LIMIT = 1024;
const PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{32,})$/;

/** Parses a password file's text; throws ConfigError naming file:line for a malformed line. */
export function parsePasswordFile(text: string, file: string): Map<string, Entry> {
  const users = new Map<string, Entry>();
  const problems: string[] = [];
  text.split('\n').forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    const match = colon > 0 ? PHC.exec(line.slice(colon + 1)) : null;
    const ln = match ? Number(match[1]) : 0;
    if (!match || ln < 10 || ln > 20) {
      // the line itself is not printed: it may hold a password hash, or a password
      const got = colon > 0 ? `user ${JSON.stringify(line.slice(0, colon))} with a hash in another form` : 'a line without user:';
      problems.push(`${file}:${index + 1}: expected user:$scrypt$ln=10..20,r=R,p=P$salt$key (switchyard passwd USER makes one), got ${got}`);
      return;
    }
    users.set(line.slice(0, colon), { ln, r: Number(match[2]), p: Number(match[3]), salt: Buffer.from(match[4], 'base64'), key: Buffer.from(match[5], 'base64') });
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return users;
}

function derive(password: string, entry: Omit<Entry, 'key'>, length: number): Promise<Buffer> {
  const N = 2 ** entry.ln;
  return new Promise((resolve, reject) => {
    crypto.scrypt(password, entry.salt, length, { N, r: entry.r, p: entry.p, maxmem: 256 * N * entry.r }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** A password file line for `user` (`switchyard passwd`): scrypt with N = 2^14, r = 8, p = 1, a 16-byte salt. */
export async function hashPassword(user: string, password: string): Promise<string> {
  if (user === '' || user.includes(':') || /\s/.test(user)) throw new Error('passwd: expected a user name without ":" or spaces');
  const params = { ln: 14, r: 8, p: 1, salt: crypto.randomBytes(16) };
  const key = await derive(password, params, 32);
  const b64 = (buf: Buffer): string => buf.toString('base64').replace(/=+$/, '');
  return `${user}:$scrypt$ln=${params.ln},r=${params.r},p=${params.p}$${b64(params.salt)}$${b64(key)}`;
}

export class PasswordFile {
  private users = new Map<string, Entry>();
  private readonly verified = new Map<string, string>();

  /** Reads and parses the file (start and reload); the old users stay when it fails. */
  async load(file: string): Promise<void> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ConfigError([`${file}: cannot read the proxy_auth password file: ${(err as Error).message}`]);
    }
    this.users = parsePasswordFile(text, file);
    this.verified.clear();
  }

  /** The user a Proxy-Authorization value names when its password is right, else undefined. */
  async check(header: string): Promise<string | undefined> {
    const known = this.verified.get(header);
    if (known !== undefined) return known;
    if (header.length < 7 || header.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return undefined;
    const user = decoded.slice(0, colon);
    // an unknown user costs a scrypt too, so the answer's timing does not tell which users exist
    const entry = this.users.get(user) ?? UNKNOWN_USER;
    const key = await derive(decoded.slice(colon + 1), entry, entry.key.length);
    if (entry === UNKNOWN_USER || !crypto.timingSafeEqual(key, entry.key)) return undefined;
    if (this.verified.size >= VERIFIED_LIMIT) this.verified.clear();
    this.verified.set(header, user);
    return user;
  }
}
