// `Authorization: Basic <base64(user:password)>` parsed strictly: anything else is "no credentials" (401),
// never an exception. RFC 7617: the scheme is case-insensitive, the user-id has no colon, UTF-8.
const token68 = /^[A-Za-z0-9+/]+={0,2}$/;
const maxLength = 1024;

export interface Credentials {
  user: string;
  password: string;
  /** The base64 token as sent (the cache key). */
  token: string;
}

export function parseBasic(header: string | undefined): Credentials | undefined {
  if (header === undefined || header.length < 7 || header.length > maxLength) return undefined;
  if (header.charCodeAt(5) !== 0x20 || header.slice(0, 5).toLowerCase() !== 'basic') return undefined;
  const token = header.slice(6).trim();
  if (token.length === 0 || token.length % 4 !== 0 || !token68.test(token)) return undefined;
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0 || decoded.includes('\uFFFD') || /[\0-\x1f\x7f]/.test(decoded)) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1), token };
}
