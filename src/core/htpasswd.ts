// The users file of `basic_auth`: `user:hash` per line (htpasswd layout), blank lines and `#` comments
// allowed. Accepted hashes: bcrypt ($2y$, $2b$, $2a$; `htpasswd -B`) and scrypt in the format
//   $scrypt$N=<cost>,r=<block size>,p=<parallelism>$<salt, base64>$<derived key, base64>
// Plaintext, {SHA}, $apr1$ (MD5), crypt(3) DES and $1$/$5$/$6$ are refused: they are fast to brute force
// once the file leaks. Here (not in the filter) because the config load checks the file as `check`,
// start and reload do for certificates, and the filter reads it with the same rules.

export type PasswordHash = { kind: 'bcrypt'; hash: string } | { kind: 'scrypt'; N: number; r: number; p: number; salt: Buffer; key: Buffer };

const bcryptHash = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;
const scryptHash = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

function weakKind(hash: string): string | undefined {
  if (hash.startsWith('{SHA}')) return '{SHA} (unsalted SHA-1)';
  if (hash.startsWith('$apr1$')) return '$apr1$ (Apache MD5)';
  if (hash.startsWith('$1$')) return '$1$ (MD5 crypt)';
  if (hash.startsWith('$5$') || hash.startsWith('$6$')) return `${hash.slice(0, 3)} (SHA crypt)`;
  if (/^[./A-Za-z0-9]{13}$/.test(hash)) return 'crypt(3) DES';
  return undefined;
}

/** The hash, or why it is refused. */
export function parsePasswordHash(hash: string): PasswordHash | string {
  if (bcryptHash.test(hash)) return { kind: 'bcrypt', hash };
  const scrypt = scryptHash.exec(hash);
  if (scrypt !== null) {
    const [N, r, p] = [Number(scrypt[1]), Number(scrypt[2]), Number(scrypt[3])];
    const salt = Buffer.from(scrypt[4], 'base64');
    const key = Buffer.from(scrypt[5], 'base64');
    if (N < 16384 || (N & (N - 1)) !== 0 || N > 1 << 20) return `scrypt N must be a power of two from 16384 to 1048576, got ${N}`;
    if (r < 1 || r > 32 || p < 1 || p > 16) return `scrypt r must be 1–32 and p 1–16, got r=${r}, p=${p}`;
    if (128 * N * r > 256 * 1024 * 1024) return 'scrypt N × r needs more than 256 MB';
    if (salt.length < 16 || key.length < 32) return 'scrypt salt must be at least 16 bytes and the key at least 32';
    return { kind: 'scrypt', N, r, p, salt, key };
  }
  const weak = weakKind(hash);
  if (weak !== undefined) return `${weak} hashes are refused: rehash with bcrypt (htpasswd -B) or scrypt`;
  return 'expected a bcrypt ($2y$…) or scrypt ($scrypt$…) hash; plaintext passwords are refused';
}

/** Users by name, or the first problem as `<file>:<line>: …` (file as given). */
export function parseUsersText(text: string, file: string): Map<string, PasswordHash> | string {
  const users = new Map<string, PasswordHash>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${file}:${i + 1}`;
    const colon = line.indexOf(':');
    if (colon <= 0) return `${where}: expected user:hash`;
    const user = line.slice(0, colon);
    if (users.has(user)) return `${where}: user ${user} is listed twice`;
    const parsed = parsePasswordHash(line.slice(colon + 1));
    if (typeof parsed === 'string') return `${where}: user ${user}: ${parsed}`;
    users.set(user, parsed);
  }
  if (users.size === 0) return `${file}: no users`;
  return users;
}
