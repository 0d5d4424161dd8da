// middleware: the filters a route (or, as a default, a listener) runs on each proxied request, in the
// order given. One entry is a one-key object naming the filter: `- headers: { ... }`. The names and
// their config schemas are declared here; src/l7/filters registers one implementation per name (its
// registry `satisfies` this list, as the balancers do).
import { z } from 'zod';
import { cacheFilterSchema } from './cache.ts';
import { compressFilterSchema } from './compress.ts';
import { duration } from './common.ts';
import { headerName, headerValue, reservedHeaderNames } from './header-fields.ts';
import { jwtFilterSchema } from './middleware-jwt.ts';
import { forwardAuthFilterSchema } from './middleware-forward-auth.ts';
import { wafFilterSchema } from './middleware-waf.ts';
import { rateLimitFilterSchema } from './rate-limit.ts';
import { corsFilterSchema } from './cors.ts';
import { basicAuthFilterSchema } from './basic-auth.ts';

export { rateLimitFilterSchema, type RateLimitKey } from './rate-limit.ts';
export { corsFilterSchema, type CorsOrigin } from './cors.ts';
export { basicAuthFilterSchema } from './basic-auth.ts';

export * from './cache.ts';
export * from './compress.ts';
export { reservedHeaderNames };
export { jwtAsymmetricAlgorithms, jwtHmacAlgorithms, type JwtAlgorithm } from './middleware-jwt.ts';
export { wafBuiltinSets, type WafBuiltinSet } from './middleware-waf.ts';
export { regexHazard } from './regex-safety.ts';

/** The placeholders a `headers` value may hold; anything else in braces is refused at load. */
export const headerPlaceholders = ['client_ip', 'request_id', 'host', 'method', 'path', 'scheme'] as const;
export type HeaderPlaceholder = (typeof headerPlaceholders)[number];

const templateValue = headerValue.superRefine((value, ctx) => {
  for (const match of value.matchAll(/\{([^{}]*)\}/g)) {
    if (!(headerPlaceholders as readonly string[]).includes(match[1])) {
      ctx.addIssue({ code: 'custom', message: `expected placeholders among {${headerPlaceholders.join('}, {')}}, got {${match[1]}}` });
    }
  }
});

const fieldMap = z.record(z.string(), templateValue).superRefine((fields, ctx) => {
  for (const name of Object.keys(fields)) {
    const result = headerName.safeParse(name);
    if (!result.success) for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', path: [name], message: issue.message });
  }
});

/** set replaces every field of that name, add appends one, remove drops every field of that name. */
export const headerEditsSchema = z.strictObject({
  set: fieldMap.optional(),
  add: fieldMap.optional(),
  remove: z.array(headerName).optional(),
});

/** `headers`: edits to the request going upstream and to the response going downstream. */
export const headersFilterSchema = z.strictObject({
  request: headerEditsSchema.optional(),
  response: headerEditsSchema.optional(),
});

const cookieName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * `sticky`: the edge pins a client to the backend that first answered it with a cookie (an opaque key of
 * the backend, not its address); an unusable pinned backend (unhealthy, ejected, draining, removed) is
 * replaced by the pool's pick and the cookie re-pinned.
 */
export const stickyFilterSchema = z.strictObject({
  cookie: z.string().regex(cookieName, 'expected a cookie name (token characters)').default('sy_backend'),
  /** Cookie lifetime; absent: a session cookie. */
  max_age: duration.optional(),
  path: z.string().regex(/^\/[^;\s]*$/, 'expected a path starting with / without ; or spaces').default('/'),
  /** Secure attribute: `auto` sets it on https listeners. */
  secure: z.union([z.boolean(), z.literal('auto')]).default('auto'),
  same_site: z.enum(['Lax', 'Strict', 'None']).default('Lax'),
});

/** Every filter the config may name, with the schema of its settings. */
export const middlewareSchemas = {
  headers: headersFilterSchema,
  cache: cacheFilterSchema,
  compress: compressFilterSchema,
  rate_limit: rateLimitFilterSchema,
  cors: corsFilterSchema,
  basic_auth: basicAuthFilterSchema,
  sticky: stickyFilterSchema,
  jwt: jwtFilterSchema,
  forward_auth: forwardAuthFilterSchema,
  waf: wafFilterSchema,
} as const;
export type MiddlewareName = keyof typeof middlewareSchemas;
export const middlewareNames = Object.keys(middlewareSchemas) as MiddlewareName[];

/** The settings each filter's factory receives. */
export type MiddlewareSettings = { [K in MiddlewareName]: z.output<(typeof middlewareSchemas)[K]> };

/** One configured filter, as the registry sees it. */
export interface MiddlewareEntry {
  name: MiddlewareName;
  settings: MiddlewareSettings[MiddlewareName];
}

/** One list entry: `{ <name>: <settings> }`, validated by that filter's schema. */
const middlewareEntry = z.record(z.string(), z.unknown()).transform((entry, ctx): MiddlewareEntry => {
  const keys = Object.keys(entry);
  if (keys.length !== 1) {
    ctx.addIssue({ code: 'custom', message: `expected one filter per entry (one of ${middlewareNames.join(', ')}), got ${keys.length === 0 ? 'none' : keys.join(' and ')}` });
    return z.NEVER;
  }
  const name = keys[0];
  if (!Object.hasOwn(middlewareSchemas, name)) {
    ctx.addIssue({ code: 'custom', path: [name], message: `unknown filter ${name}: expected one of ${middlewareNames.join(', ')}` });
    return z.NEVER;
  }
  const result = middlewareSchemas[name as MiddlewareName].safeParse(entry[name] ?? {});
  if (!result.success) {
    for (const issue of result.error.issues) ctx.addIssue({ code: 'custom', path: [name, ...(issue.path as (string | number)[])], message: issue.message });
    return z.NEVER;
  }
  return { name: name as MiddlewareName, settings: result.data };
});

export const middlewareSchema = z.array(middlewareEntry);
export type MiddlewareConfig = z.output<typeof middlewareSchema>;
