// `key: claim:NAME` reads a claim from the payload of the bearer token WITHOUT verifying its signature.
// That is only sound behind a `jwt` filter earlier in the same chain, which refuses unverified tokens
// before rate_limit runs (docs say so); alone, a client could pick its own bucket by forging the claim.
const maxTokenLength = 8192;

/** The claim's value as a string (strings and finite numbers), or undefined when absent or malformed. */
export function bearerClaim(authorization: string | undefined, claim: string): string | undefined {
  if (authorization === undefined || authorization.length < 8 || authorization.length > maxTokenLength) return undefined;
  if (authorization.charCodeAt(6) !== 0x20 || authorization.slice(0, 6).toLowerCase() !== 'bearer') return undefined;
  const token = authorization.slice(7).trim();
  const first = token.indexOf('.');
  const second = first < 0 ? -1 : token.indexOf('.', first + 1);
  if (first <= 0 || second < 0 || token.indexOf('.', second + 1) !== -1) return undefined;
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(token.slice(first + 1, second), 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  if (payload === null || typeof payload !== 'object' || !Object.hasOwn(payload, claim)) return undefined;
  const value = (payload as Record<string, unknown>)[claim];
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}
