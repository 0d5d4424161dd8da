// Verified claims forwarded upstream as request headers. The client's own fields of those names are always
// removed first, so a client cannot supply x-user-id itself. Only strings and numbers are forwarded, and
// a string only when it is printable ASCII (no CR/LF/NUL or other control bytes, no bytes a head could not
// carry unchanged on every path) and at most 1024 characters; any other value leaves the field absent.
import type { JWTPayload } from 'jose';
import type { FilterStats, HeaderWriter } from '../types.ts';

const MAX_VALUE = 1024;
const PRINTABLE = /^[\x20-\x7e]*$/;

export function forwardClaims(forwards: readonly (readonly [string, string])[], claims: JWTPayload | undefined, head: HeaderWriter, stats: FilterStats): void {
  for (let i = 0; i < forwards.length; i++) {
    const [claim, name] = forwards[i];
    head.remove(name);
    const value = claims?.[claim];
    if (value === undefined) continue;
    if (typeof value === 'number' && Number.isFinite(value)) head.set(name, String(value));
    else if (typeof value === 'string' && value.length <= MAX_VALUE && PRINTABLE.test(value)) head.set(name, value);
    else stats.count('claim_not_forwarded');
  }
}
