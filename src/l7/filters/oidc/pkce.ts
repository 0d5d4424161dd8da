// The per-login secrets: PKCE verifier and challenge (RFC 7636, S256), state and nonce.
import { createHash, randomBytes } from 'node:crypto';

/** 32 random bytes, base64url (43 characters, inside RFC 7636's 43..128). */
export function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

export function codeChallenge(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}
