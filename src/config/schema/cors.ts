// `cors`: the edge answers CORS preflights and adds the CORS response fields. Origins are parsed here into
// exact origins, wildcard-subdomain patterns or "*"; methods and headers into their canonical spelling.
import { z } from 'zod';

const tokenName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export type CorsOrigin = { kind: 'any' } | { kind: 'exact'; origin: string } | { kind: 'subdomains'; scheme: string; suffix: string; port: string };

/** "https://app.example.test", "https://*.example.test" (any subdomain, not the apex), "http://localhost:3000", or "*". */
const originSpec = z.string().transform((text, ctx): CorsOrigin => {
  if (text === '*') return { kind: 'any' };
  const match = /^(https?):\/\/(\*\.)?([a-z0-9-]+(?:\.[a-z0-9-]+)*)(:\d{1,5})?$/.exec(text.toLowerCase());
  if (match === null || (match[4] !== undefined && Number(match[4].slice(1)) > 65535)) {
    ctx.addIssue({ code: 'custom', message: `expected an origin like https://app.example.test, https://*.example.test or "*", got ${JSON.stringify(text)} (scheme and host, no path)` });
    return z.NEVER;
  }
  const [, scheme, wildcard, host, port = ''] = match;
  if (wildcard !== undefined) return { kind: 'subdomains', scheme, suffix: `.${host}`, port };
  return { kind: 'exact', origin: `${scheme}://${host}${port}` };
});

const method = z.string().refine((text) => tokenName.test(text), { message: 'expected an HTTP method (a token)' });
const headerName = z
  .string()
  .refine((text) => tokenName.test(text), { message: 'expected a header name (token characters)' })
  .transform((text) => text.toLowerCase());

export const corsFilterSchema = z
  .strictObject({
    /** Allowed origins: exact, `https://*.example.test` (any subdomain), or "*" (any origin, never with credentials). Empty: no origin is allowed. */
    origins: z.array(originSpec).default([]),
    /** Methods a preflight may ask for (simple methods GET, HEAD and POST are always allowed by browsers). */
    methods: z.array(method).default(['GET', 'HEAD', 'POST']),
    /** Request headers a preflight may ask for (lower-cased); ["*"] allows any (not with credentials). */
    headers: z.array(z.union([z.literal('*'), headerName])).default([]),
    /** Response headers the browser exposes to the page (Access-Control-Expose-Headers). */
    expose_headers: z.array(headerName).default([]),
    /** Access-Control-Allow-Credentials: true (cookies and HTTP auth on cross-origin requests). */
    credentials: z.boolean().default(false),
    /** How long a browser may cache a preflight answer (Access-Control-Max-Age, seconds). */
    max_age: z.number().int().min(0).max(86_400).default(600),
  })
  .superRefine((settings, ctx) => {
    if (settings.credentials && settings.origins.some((origin) => origin.kind === 'any')) {
      ctx.addIssue({ code: 'custom', path: ['origins'], message: 'origins "*" cannot be used with credentials: true (browsers refuse it; list the origins)' });
    }
    if (settings.credentials && settings.headers.includes('*')) {
      ctx.addIssue({ code: 'custom', path: ['headers'], message: 'headers "*" cannot be used with credentials: true (browsers read it as a header named "*"; list the headers)' });
    }
  });
