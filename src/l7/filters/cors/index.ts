// `cors`: Cross-Origin Resource Sharing terminated at the edge. A preflight (OPTIONS with Origin and
// Access-Control-Request-Method) is answered here — 204 with the allowed methods and headers, or 403 when
// the origin, method or a header is not allowed — and never reaches the upstream. Other requests go
// upstream; their responses get Access-Control-Allow-Origin (and credentials, exposed headers) when the
// Origin is allowed, and lose any CORS fields the upstream set when it is not, so the edge's policy is the
// only one a browser sees. Vary: Origin is added whenever the answer depends on the Origin.
import type { MiddlewareSettings } from '../../../config/index.ts';
import type { FilterContext, FilterFactory, HeaderWriter, HttpFilter, LocalResponse, RequestVerdict } from '../types.ts';
import { compileOrigins } from './origins.ts';

// Methods a browser never preflights: allowed whatever `methods` lists (CORS-safelisted methods).
const safelistedMethods = new Set(['GET', 'HEAD', 'POST']);

const allowHeaderNames = ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-expose-headers'] as const;

export const corsFilter = {
  name: 'cors',
  create(settings: MiddlewareSettings['cors']): HttpFilter {
    const origins = compileOrigins(settings.origins, settings.credentials);
    // "*" without credentials: one constant answer; otherwise the allowed Origin is echoed
    const star = origins.any && !settings.credentials;
    const methods = new Set(settings.methods);
    const anyHeader = settings.headers.includes('*');
    const headers = new Set(settings.headers);
    const methodsValue = settings.methods.join(', ');
    const headersValue = settings.headers.join(', ');
    const exposeValue = settings.expose_headers.join(', ');
    const maxAge = String(settings.max_age);
    const vary = origins.dependsOnOrigin;

    const refused: LocalResponse = Object.freeze({
      status: 403,
      headers: Object.freeze(vary ? ['vary', 'Origin', 'cache-control', 'no-store'] : ['cache-control', 'no-store']),
      body: 'cors: preflight refused\n',
    });

    const refuse = (ctx: FilterContext, reason: string): LocalResponse => {
      ctx.setReason(reason);
      return refused;
    };

    const headersAllowed = (requested: string | undefined): boolean => {
      if (anyHeader || requested === undefined) return true;
      for (const raw of requested.split(',')) {
        const name = raw.trim().toLowerCase();
        if (name !== '' && !headers.has(name)) return false;
      }
      return true;
    };

    const preflight = (origin: string, ctx: FilterContext, requestedMethod: string): LocalResponse => {
      if (!origins.allows(origin)) return refuse(ctx, 'cors:origin');
      if (!methods.has(requestedMethod) && !safelistedMethods.has(requestedMethod)) return refuse(ctx, 'cors:method');
      if (!headersAllowed(ctx.header('access-control-request-headers'))) return refuse(ctx, 'cors:header');
      ctx.setReason('cors:preflight');
      const fields = ['access-control-allow-origin', star ? '*' : origin, 'access-control-allow-methods', methodsValue];
      if (headersValue !== '') fields.push('access-control-allow-headers', headersValue);
      if (settings.credentials) fields.push('access-control-allow-credentials', 'true');
      fields.push('access-control-max-age', maxAge);
      if (vary) fields.push('vary', 'Origin');
      fields.push('cache-control', 'no-store');
      return { status: 204, headers: fields, body: '' };
    };

    const filter: HttpFilter = {
      name: 'cors',
      onRequest(ctx): RequestVerdict {
        if (ctx.method !== 'OPTIONS') return undefined;
        const origin = ctx.header('origin');
        const requestedMethod = ctx.header('access-control-request-method');
        if (origin === undefined || requestedMethod === undefined) return undefined;
        return preflight(origin, ctx, requestedMethod);
      },
      onResponse(ctx: FilterContext, head: HeaderWriter) {
        if (vary) head.add('vary', 'Origin');
        const origin = ctx.header('origin');
        if (origin === undefined) return undefined;
        if (!origins.allows(origin)) {
          for (const name of allowHeaderNames) head.remove(name);
          return undefined;
        }
        head.set('access-control-allow-origin', star ? '*' : origin);
        if (settings.credentials) head.set('access-control-allow-credentials', 'true');
        else head.remove('access-control-allow-credentials');
        if (exposeValue !== '') head.set('access-control-expose-headers', exposeValue);
        return undefined;
      },
    };
    return filter;
  },
} satisfies FilterFactory<'cors'>;
