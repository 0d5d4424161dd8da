// `basic_auth`: HTTP Basic authentication (RFC 7617) against a users file of bcrypt or scrypt hashes.
// No or malformed credentials, an unknown user or a wrong password: 401 with
// WWW-Authenticate: Basic realm="…", charset="UTF-8", and nothing goes upstream. Once verified, the
// Authorization field is removed from the upstream request unless `forward: true`.
// Costs: hashing is deliberately slow, so verdicts are cached (cache.ts: 5 minutes for a success, 30 s for
// a failure, 1024 entries), concurrent checks of the same credentials share one hash, and at most
// `maxHashing` checks run at once per process — past that a request is answered 429 instead of queueing
// more CPU work (a rate_limit before basic_auth bounds guessing per client).
import type { MiddlewareSettings } from '../../../config/index.ts';
import type { FilterContext, FilterFactory, HeaderWriter, HttpFilter, LocalResponse, RequestVerdict } from '../types.ts';
import { credentialKey, VerdictCache } from './cache.ts';
import { parseBasic } from './credentials.ts';
import { readUsersFile, type PasswordHash } from './users-file.ts';
import { verifyPassword } from './verify.ts';

export { readUsersFile } from './users-file.ts';

const okTtlMs = 5 * 60_000;
const failTtlMs = 30_000;
const cacheCapacity = 1024;
const maxHashing = 8;
// An unknown user is checked against this (bcrypt, cost 10) so that its 401 takes as long as a wrong
// password's: the answer's timing does not tell which user names exist.
const unknownUser: PasswordHash = { kind: 'bcrypt', hash: '$2b$10$sQGvH/JdagUiTJKOWiP6Z.35xEZLydliKHuyzn/x4FJaBHt/Xmqcu' };

/** How many checks run in this process, shared by every basic_auth filter (env.shared). */
interface Hashing {
  inflight: number;
}

export const basicAuthFilter = {
  name: 'basic_auth',
  create(settings: MiddlewareSettings['basic_auth'], env): HttpFilter {
    const users: ReadonlyMap<string, PasswordHash> = readUsersFile(settings.users_file, env.baseDir);
    const stats = env.stats('basic_auth');
    const cache = new VerdictCache(cacheCapacity);
    const hashing = env.shared<Hashing>('basic_auth:hashing', () => ({ inflight: 0 }));
    // per filter: another basic_auth entry (another users file) must not reuse this one's verdicts
    const pending = new Map<string, Promise<boolean>>();
    const challenge: LocalResponse = Object.freeze({
      status: 401,
      headers: Object.freeze(['www-authenticate', `Basic realm="${settings.realm}", charset="UTF-8"`, 'cache-control', 'no-store']),
      body: 'authentication required\n',
    });
    const busy: LocalResponse = Object.freeze({
      status: 429,
      headers: Object.freeze(['retry-after', '1', 'cache-control', 'no-store']),
      body: 'too many authentication checks in progress\n',
    });

    const verdict = (ctx: FilterContext, ok: boolean): RequestVerdict => {
      if (ok) {
        stats.count('allowed');
        return undefined;
      }
      stats.count('failed');
      ctx.setReason('basic_auth:failed');
      return challenge;
    };

    const filter: HttpFilter = {
      name: 'basic_auth',
      onRequest(ctx: FilterContext) {
        const header = ctx.header('authorization');
        const credentials = parseBasic(header);
        if (credentials === undefined) {
          const event = header === undefined ? 'challenged' : 'malformed';
          stats.count(event);
          ctx.setReason(header === undefined ? 'basic_auth:challenged' : 'basic_auth:malformed');
          return challenge;
        }
        const hash = users.get(credentials.user);
        // per filter object: a reload (a possibly changed users file) starts with an empty cache
        const key = credentialKey(credentials.token);
        const now = env.now();
        const cached = cache.get(key, now);
        if (cached !== undefined) return verdict(ctx, cached);
        let check = pending.get(key);
        if (check === undefined) {
          if (hashing.inflight >= maxHashing) {
            stats.count('busy');
            ctx.setReason('basic_auth:busy');
            return busy;
          }
          hashing.inflight++;
          check = verifyPassword(credentials.password, hash ?? unknownUser)
            .then((ok) => ok && hash !== undefined)
            .catch(() => false)
            .finally(() => {
              hashing.inflight--;
              pending.delete(key);
            });
          pending.set(key, check);
        }
        return check.then((ok) => {
          cache.set(key, ok, env.now() + (ok ? okTtlMs : failTtlMs));
          return verdict(ctx, ok);
        });
      },
    };
    if (!settings.forward) filter.onUpstreamRequest = (_ctx: FilterContext, head: HeaderWriter) => head.remove('authorization');
    return filter;
  },
} satisfies FilterFactory<'basic_auth'>;
