// A request's bucket key, compiled from the `key` setting into one function. Undefined means the request
// carries no key (no such header, cookie or claim): the filter does not limit it, as nginx's limit_req
// does with an empty key.
import { createHash } from 'node:crypto';
import type { RateLimitKey } from '../../../config/index.ts';
import type { FilterContext } from '../types.ts';
import { bearerClaim } from './jwt-claim.ts';

export type KeyOf = (ctx: FilterContext) => string | undefined;

// Values longer than this are hashed: a client must not make the edge (or Redis) keep huge keys.
const maxKeyLength = 128;

function bounded(value: string | undefined): string | undefined {
  if (value === undefined || value.length <= maxKeyLength) return value;
  return createHash('sha256').update(value).digest('base64url');
}

export function compileKey(key: RateLimitKey): KeyOf {
  switch (key.kind) {
    case 'ip':
      return (ctx) => ctx.clientAddress;
    case 'route':
      return () => '';
    case 'header': {
      const name = key.name;
      return (ctx) => bounded(ctx.header(name));
    }
    case 'cookie': {
      const name = key.name;
      return (ctx) => bounded(ctx.cookie(name));
    }
    case 'claim': {
      const name = key.name;
      return (ctx) => bounded(bearerClaim(ctx.header('authorization'), name));
    }
  }
}

/** The key setting as written (part of the bucket name, so two keys on one zone never share a bucket). */
export function keyText(key: RateLimitKey): string {
  return key.kind === 'ip' || key.kind === 'route' ? key.kind : `${key.kind}:${key.name}`;
}
