// JWTs (HS256, jose) issued at login. Every instance of both services verifies them with the same secret:
// JWT_SECRET from the environment, or a random one generated once in the data directory.
import { randomBytes } from 'node:crypto';
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, jwtVerify } from 'jose';

export interface AuthUser {
  id: number;
  username: string;
}

const issuer = 'switchyard-demo';
const audience = 'switchyard-demo';

export class TokenService {
  readonly #secret: Uint8Array;
  readonly ttlSeconds: number;

  constructor(secret: Uint8Array, ttlSeconds: number) {
    this.#secret = secret;
    this.ttlSeconds = ttlSeconds;
  }

  async issue(user: AuthUser): Promise<string> {
    return new SignJWT({ name: user.username })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(String(user.id))
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.#secret);
  }

  /** The token's user, or undefined when the signature, issuer, audience or expiry does not hold. */
  async verify(token: string): Promise<AuthUser | undefined> {
    try {
      const { payload } = await jwtVerify(token, this.#secret, { issuer, audience, algorithms: ['HS256'] });
      const id = Number(payload.sub);
      if (!Number.isSafeInteger(id) || id <= 0 || typeof payload.name !== 'string') return undefined;
      return { id, username: payload.name };
    } catch {
      return undefined;
    }
  }
}

/**
 * The signing secret: `fromEnv` when set, else `<dataDir>/jwt.secret`, created on first start (mode 0600).
 * Several instances may start at once: each writes a private temporary file and links it into place;
 * link() fails when the name exists, so exactly one wins and nobody ever reads a half-written file.
 */
export async function loadTokenSecret(dataDir: string, fromEnv: string | undefined): Promise<Uint8Array> {
  if (fromEnv) return new TextEncoder().encode(fromEnv);
  const file = join(dataDir, 'jwt.secret');
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temporary, randomBytes(32).toString('base64url'), { mode: 0o600 });
  try {
    await link(temporary, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(temporary);
  }
  const text = (await readFile(file, 'utf8')).trim();
  if (text.length === 0) throw new Error(`demo: ${file} is empty; delete it to have a new secret generated`);
  return new TextEncoder().encode(text);
}
