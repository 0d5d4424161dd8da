// `oidc`: log users in at the edge with the OpenID Connect authorization code flow (PKCE). A request with
// a valid session cookie goes upstream with the configured claims as headers (and without the session
// cookie or the client's Authorization); one without is redirected to the provider (browser navigation)
// or answered 401 (API call). The callback and logout paths are answered here. See flow.ts for the steps,
// provider.ts for discovery and the token endpoint, cookies.ts and seal.ts for the cookies.
import type { MiddlewareSettings } from '../../../config/index.ts';
import type { FilterContext, FilterFactory, HttpFilter, LocalResponse, RequestVerdict } from '../types.ts';
import { readSession, sealSession, MAX_COOKIE_VALUE, cookiesWithout, type Session } from './cookies.ts';
import { claimHeaderValue, isApiCall } from './claims.ts';
import { callback, clearSession, logout, plain, refresh, sessionCookie, startLogin } from './flow.ts';
import { Runtime, epochSeconds } from './runtime.ts';

/** What onRequest stashes for a refreshed session: the session and the Set-Cookie replacing the old one. */
class Renewed {
  readonly session: Session;
  readonly setCookie: string;
  constructor(session: Session, setCookie: string) {
    this.session = session;
    this.setCookie = setCookie;
  }
}

export const oidcFilter = {
  name: 'oidc',
  create(settings: MiddlewareSettings['oidc'], env): HttpFilter {
    const rt = new Runtime(settings, env);
    const s = rt.settings;
    const edgeCookies = [s.cookie, s.stateCookie];

    const unauthenticated = (ctx: FilterContext, hadCookie: boolean): LocalResponse | Promise<LocalResponse> => {
      const clear = hadCookie ? clearSession(rt, ctx) : undefined;
      if (isApiCall(ctx, s.apiPaths)) {
        rt.decide(ctx, 'unauthenticated');
        const headers = ['content-type', 'application/json', 'www-authenticate', `OIDC realm="${ctx.routeName.replace(/["\\]/g, '')}"`];
        if (clear !== undefined) headers.push('set-cookie', clear);
        return plain(401, '{"error":"login required"}', headers);
      }
      return startLogin(rt, ctx, clear).catch((failure: unknown) => {
        rt.warn('cannot start a login (discovery or cookie secret)', failure);
        rt.decide(ctx, 'provider_error');
        return plain(503, 'login unavailable: identity provider not reachable');
      });
    };

    const check = (ctx: FilterContext): RequestVerdict | Promise<RequestVerdict> => {
      const keys = rt.keys;
      if (keys === undefined) return rt.loadKeys().then(() => check(ctx), (failure: unknown) => {
        rt.warn('cannot read cookie_secret_file', failure);
        return plain(500, 'login unavailable');
      });
      const value = ctx.cookie(s.cookie);
      const now = epochSeconds();
      let session = value === undefined ? undefined : rt.sessions.get(value);
      if (session === undefined) {
        session = readSession(keys.session, value, now, s.sessionMaxAge);
        if (session !== undefined) rt.remember(value as string, session);
      } else if (session.start + s.sessionMaxAge <= now) {
        session = undefined;
      }
      if (session === undefined) {
        if (value !== undefined && value !== '') rt.decide(ctx, 'session_invalid');
        return unauthenticated(ctx, value !== undefined);
      }
      if (session.exp - s.refreshBefore > now) {
        ctx.stash(filter, session);
        return undefined;
      }
      if (session.rt === undefined) return session.exp > now ? (ctx.stash(filter, session), undefined) : unauthenticated(ctx, true);
      return refresh(rt, session as Session & { rt: string }).then(
        (renewed) => {
          if (renewed === undefined) return unauthenticated(ctx, true);
          const sealed = sealSession(keys.session, renewed);
          if (sealed.length > MAX_COOKIE_VALUE) return unauthenticated(ctx, true);
          ctx.stash(filter, new Renewed(renewed, sessionCookie(rt, ctx, sealed, renewed)));
          return undefined;
        },
        (failure: unknown) => {
          rt.decide(ctx, 'refresh_error');
          rt.warn('refresh failed', failure);
          // the provider is away: the session stands until its tokens expire
          if (session.exp > now) {
            ctx.stash(filter, session);
            return undefined;
          }
          return plain(503, 'session expired and the identity provider is not reachable');
        },
      );
    };

    const filter: HttpFilter = {
      name: 'oidc',
      onRequest(ctx) {
        if (ctx.path === s.redirectPath) return callback(rt, ctx).catch((failure: unknown) => providerDown(ctx, failure));
        if (ctx.path === s.logoutPath) return logout(rt, ctx);
        return check(ctx);
      },
      onUpstreamRequest(ctx, head) {
        const stashed = ctx.stashed(filter);
        const session = stashed instanceof Renewed ? stashed.session : (stashed as Session | undefined);
        for (const [claim, header] of s.forward) {
          // the client's own field of that name never passes: only the edge speaks for the user
          head.remove(header);
          if (session === undefined) continue;
          const value = claimHeaderValue(claim === 'sub' ? session.sub : session.claims[claim]);
          if (value !== undefined) head.set(header, value);
        }
        if (!s.forwardAuthorization) head.remove('authorization');
        if (!s.forwardCookie) {
          const cookie = ctx.header('cookie');
          if (cookie !== undefined) {
            const kept = cookiesWithout(cookie, edgeCookies);
            if (kept === undefined) head.remove('cookie');
            else if (kept !== cookie) head.set('cookie', kept);
          }
        }
      },
      onResponse(ctx, head) {
        const stashed = ctx.stashed(filter);
        if (stashed instanceof Renewed) head.add('set-cookie', stashed.setCookie);
        return undefined;
      },
    };

    const providerDown = (ctx: FilterContext, failure: unknown): LocalResponse => {
      rt.warn('login callback failed', failure);
      rt.decide(ctx, 'provider_error');
      return plain(502, 'identity provider unreachable');
    };
    return filter;
  },
} satisfies FilterFactory<'oidc'>;
