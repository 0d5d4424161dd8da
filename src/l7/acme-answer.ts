// ACME http-01 (RFC 8555 8.3): GET /.well-known/acme-challenge/<token> answers the key authorization of a
// pending challenge. Checked only while the process has one pending (HttpChallengeSource.size), so the
// request path pays one comparison the rest of the time.
import type { HttpChallengeSource } from './types.ts';

const PREFIX = '/.well-known/acme-challenge/';

/** The body to answer for `path`, or undefined when it is not a pending token (the request is routed as usual). */
export function acmeKeyAuthorization(source: HttpChallengeSource, path: string): string | undefined {
  if (!path.startsWith(PREFIX)) return undefined;
  const token = path.slice(PREFIX.length);
  return source.keyAuthorization(token);
}
