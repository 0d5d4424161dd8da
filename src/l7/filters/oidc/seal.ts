// Cookie sealing: AES-256-GCM (node:crypto) over a JSON payload, with the cookie's purpose as associated
// data, so a value cannot be read, altered, or moved from one cookie (the login state) to another (the
// session). Keys are derived with HKDF from the cookie secret file, one per purpose.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Below this a secret file is refused: the key must not be guessable. */
export const MIN_SECRET_BYTES = 32;

export interface SealKeys {
  session: Buffer;
  state: Buffer;
}

/** The per-purpose keys from the secret file's bytes (surrounding whitespace ignored). */
export function deriveKeys(secret: Buffer): SealKeys {
  const material = Buffer.from(secret.toString('latin1').trim(), 'latin1');
  if (material.length < MIN_SECRET_BYTES) throw new Error(`cookie secret has ${material.length} bytes, expected at least ${MIN_SECRET_BYTES}`);
  const derive = (info: string) => Buffer.from(hkdfSync('sha256', material, Buffer.alloc(0), `switchyard oidc ${info}`, 32));
  return { session: derive('session'), state: derive('state') };
}

/** base64url(iv ‖ ciphertext ‖ tag) of JSON.stringify(payload). */
export function seal(key: Buffer, purpose: string, payload: unknown): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(purpose));
  const body = cipher.update(JSON.stringify(payload), 'utf8');
  const rest = cipher.final();
  return Buffer.concat([iv, body, rest, cipher.getAuthTag()]).toString('base64url');
}

/** The payload, or undefined for anything not sealed by this key for this purpose (tampered, truncated, foreign). */
export function unseal(key: Buffer, purpose: string, value: string): unknown {
  if (value.length < 40 || !/^[A-Za-z0-9_-]+$/.test(value)) return undefined;
  const bytes = Buffer.from(value, 'base64url');
  if (bytes.length <= IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(purpose));
    decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
    const text = Buffer.concat([decipher.update(bytes.subarray(IV_BYTES, bytes.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
