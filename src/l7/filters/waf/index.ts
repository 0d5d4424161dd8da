// `waf`: request rules checked before the request goes upstream, in this order: the client address
// (deny, then allow), the own rules in declared order (the first match decides: block, or allow, which
// skips the rest), then the enabled built-in sets. `mode: block` answers 403 naming the rule (field
// x-switchyard-waf-rule); `mode: detect` lets the request through. Either way the rule id is counted
// (env.stats('waf'): the rule id, and blocked / detected) and is the request's reason in the access log
// (`waf:<rule id>`).
// The request body is not looked at (request filters see the head only).
import type { MiddlewareSettings } from '../../../config/index.ts';
import type { FilterContext, FilterEnv, FilterFactory, HttpFilter, RequestVerdict } from '../types.ts';
import { percentDecode } from './decode.ts';
import { compileWaf, type BuiltinRuleList, type CompiledWaf, type OwnRule } from './rules.ts';
import { bodyKind, BODY_FORM, BODY_JSON, BODY_OTHER } from './body.ts';

type WafSettings = MiddlewareSettings['waf'];

function ownRuleMatches(rule: OwnRule, ctx: FilterContext, path: string, query: string, body: string | undefined): boolean {
  if (rule.methods !== null && !rule.methods.has(ctx.method)) return false;
  if (rule.path !== null && !rule.path.test(path)) return false;
  if (rule.query !== null && !rule.query.test(query)) return false;
  if (rule.body !== null && (body === undefined || !rule.body.test(body))) return false;
  for (let i = 0; i < rule.headers.length; i++) {
    const value = ctx.header(rule.headers[i][0]);
    if (value === undefined || !rule.headers[i][1].test(value)) return false;
  }
  return true;
}

function firstMatch(rules: BuiltinRuleList, a: string, b: string): string | undefined {
  for (let i = 0; i < rules.length; i++) {
    const pattern = rules[i].pattern;
    if (pattern.test(a) || (b !== '' && pattern.test(b))) return rules[i].id;
  }
  return undefined;
}

/** The id of the rule the request breaks; null when an allow rule lets it through; undefined when none matches. */
function judge(waf: CompiledWaf, ctx: FilterContext): string | null | undefined {
  if (waf.deny !== null && waf.deny.contains(ctx.clientAddress)) return 'cidr-deny';
  if (waf.allow !== null && !waf.allow.contains(ctx.clientAddress)) return 'cidr-allow';
  const path = percentDecode(ctx.path, false);
  const query = percentDecode(ctx.query, true);
  // the body as text (only when inspection is on and the request has one): Latin-1, so each byte is one
  // character and a rule never sees a decoding error; a form body decoded once, as a query is
  let kind = BODY_OTHER;
  let body: string | undefined;
  if (waf.inspectSize > 0) {
    const prefix = ctx.bodyPrefix();
    if (prefix.length > 0) {
      kind = bodyKind(ctx.header('content-type'));
      body = prefix.toString('latin1', 0, Math.min(prefix.length, waf.inspectSize));
      if (kind === BODY_FORM) body = percentDecode(body, true);
    }
  }
  for (let i = 0; i < waf.own.length; i++) {
    const rule = waf.own[i];
    if (ownRuleMatches(rule, ctx, path, query, body)) return rule.allow ? null : rule.id;
  }
  let hit: string | undefined;
  if (body !== undefined) {
    const encoding = ctx.header('content-encoding');
    if (encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') return 'body-encoded';
    if (kind !== BODY_OTHER) {
      for (let i = 0; i < waf.body.length; i++) {
        const rule = waf.body[i];
        if ((kind === BODY_JSON ? rule.json : rule.form).test(body)) return rule.id;
      }
    }
  }
  if (waf.text.length > 0 && (hit = firstMatch(waf.text, path, query)) !== undefined) return hit;
  if (waf.raw.length > 0 && (hit = firstMatch(waf.raw, ctx.path, ctx.query)) !== undefined) return hit;
  if (waf.deep.length > 0) {
    // decoded twice: %252e%252e is %2e%2e after the first pass and .. after the second
    if ((hit = firstMatch(waf.deep, percentDecode(path, false), percentDecode(query, true))) !== undefined) return hit;
  }
  if (waf.agent.length > 0) {
    const agent = ctx.header('user-agent');
    if (agent !== undefined && (hit = firstMatch(waf.agent, agent, '')) !== undefined) return hit;
  }
  return undefined;
}

function create(settings: WafSettings, env: FilterEnv): HttpFilter {
  const waf = compileWaf(settings);
  const stats = env.stats('waf');
  const block = settings.mode === 'block';
  const filter: HttpFilter = {
    name: 'waf',
    readsBody: waf.inspectSize,
    onRequest(ctx): RequestVerdict {
      const id = judge(waf, ctx);
      if (id === undefined || id === null) return undefined;
      stats.count(id);
      ctx.setReason(waf.reasons.get(id)!);
      if (!block) {
        stats.count('detected');
        return undefined;
      }
      stats.count('blocked');
      return waf.refusals.get(id);
    },
  };
  return filter;
}

export const wafFilter = { name: 'waf', create } satisfies FilterFactory<'waf'>;
