// Header names and values a filter may write, checked at load: shared by every filter schema that names
// header fields (headers, jwt's forward_claims, forward_auth's copy_headers, …).
import { z } from 'zod';

/**
 * Fields a filter may not set, add or remove: the framing and connection fields are the edge's (from the
 * body it parsed and the connection it keeps), and the upstream Host is the route's `upstream_host`.
 */
export const reservedHeaderNames: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'content-length',
  'upgrade',
  'te',
  'trailer',
  'host',
  'http2-settings',
]);

const tokenName = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

/** A header name a filter may write: a token, lower-cased, not a reserved field. */
export const headerName = z
  .string()
  .transform((name) => name.toLowerCase())
  .superRefine((name, ctx) => {
    if (!tokenName.test(name)) ctx.addIssue({ code: 'custom', message: `expected a header name (token characters), got ${JSON.stringify(name)}` });
    else if (reservedHeaderNames.has(name)) ctx.addIssue({ code: 'custom', message: `expected a header the edge does not own, got ${name} (framing, connection and host fields are the edge's; the upstream Host is the route's upstream_host)` });
  });

/** A value: no CR, LF or NUL (it would split the head); may hold {placeholders}. */
export const headerValue = z.string().refine((value) => !/[\r\n\0]/.test(value), { message: 'expected a header value without CR, LF or NUL' });

