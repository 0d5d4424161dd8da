// A waf filter's settings compiled once: CIDR sets, own rules with their patterns, and the built-in rules
// of the enabled sets grouped by what they look at, plus the 403 of every rule built ahead. Body rules
// (own `body` conditions, the sqli and xss sets on form and JSON bodies) get ids prefixed `body-`, so the
// 403, the metrics and the access log say where the probe was.
import { CidrSet } from '../../../listener/index.ts';
import type { MiddlewareSettings } from '../../../config/index.ts';
import { parseCidr } from '../../../core/index.ts';
import type { LocalResponse } from '../types.ts';
import { builtinRules, type BuiltinRule } from './builtin-rules.ts';

type WafSettings = MiddlewareSettings['waf'];

export interface OwnRule {
  readonly id: string;
  readonly allow: boolean;
  readonly methods: ReadonlySet<string> | null;
  readonly path: RegExp | null;
  readonly query: RegExp | null;
  readonly headers: readonly (readonly [string, RegExp])[];
  readonly body: RegExp | null;
}

/** A built-in rule as matched on a body: its id there and its pattern for each body kind. */
export interface BodyRule {
  readonly id: string;
  readonly form: RegExp;
  readonly json: RegExp;
}

export type BuiltinRuleList = readonly BuiltinRule[];

export interface CompiledWaf {
  readonly deny: CidrSet | null;
  readonly allow: CidrSet | null;
  readonly own: readonly OwnRule[];
  readonly text: readonly BuiltinRule[];
  readonly deep: readonly BuiltinRule[];
  readonly raw: readonly BuiltinRule[];
  readonly agent: readonly BuiltinRule[];
  /** Bytes of the body matched (0: the body is not read). */
  readonly inspectSize: number;
  /** Whether any own rule looks at the body. */
  readonly ownBody: boolean;
  /** The enabled sqli and xss rules, for form and JSON bodies. */
  readonly body: readonly BodyRule[];
  /** The 403 of each rule id (cidr-deny and cidr-allow included). */
  readonly refusals: ReadonlyMap<string, LocalResponse>;
  /** The access log reason of each rule id (`waf:<id>`), built once. */
  readonly reasons: ReadonlyMap<string, string>;
}

function cidrSet(list: readonly string[]): CidrSet {
  return new CidrSet(list.map((text) => parseCidr(text)));
}

function refusal(id: string): LocalResponse {
  return Object.freeze({ status: 403, headers: Object.freeze(['x-switchyard-waf-rule', id, 'cache-control', 'no-store']), body: `forbidden: request refused by the waf (rule ${id})\n` });
}

export function compileWaf(settings: WafSettings): CompiledWaf {
  const own: OwnRule[] = settings.rules.map((rule) => ({
    id: rule.id,
    allow: rule.action === 'allow',
    methods: rule.methods === undefined ? null : new Set(rule.methods),
    path: rule.path === undefined ? null : new RegExp(rule.path, 'i'),
    query: rule.query === undefined ? null : new RegExp(rule.query, 'i'),
    headers: Object.entries(rule.headers ?? {}).map(([name, pattern]) => [name.toLowerCase(), new RegExp(pattern, 'i')] as const),
    body: rule.body === undefined ? null : new RegExp(rule.body, 'i'),
  }));
  const enabled = builtinRules.filter((rule) => settings.builtin.includes(rule.set));
  const inspectSize = settings.body?.inspect_size ?? 0;
  const body: BodyRule[] =
    inspectSize === 0
      ? []
      : enabled.filter((rule) => rule.set === 'sqli' || rule.set === 'xss').map((rule) => ({ id: `body-${rule.id}`, form: rule.pattern, json: rule.json ?? rule.pattern }));
  const refusals = new Map<string, LocalResponse>();
  const reasons = new Map<string, string>();
  const bodyIds = inspectSize === 0 ? [] : ['body-encoded', ...body.map((rule) => rule.id)];
  for (const id of ['cidr-deny', 'cidr-allow', ...own.map((rule) => rule.id), ...enabled.map((rule) => rule.id), ...bodyIds]) {
    refusals.set(id, refusal(id));
    reasons.set(id, `waf:${id}`);
  }
  return {
    deny: settings.deny.length > 0 ? cidrSet(settings.deny) : null,
    allow: settings.allow !== undefined ? cidrSet(settings.allow) : null,
    own,
    text: enabled.filter((rule) => rule.target === 'text'),
    deep: enabled.filter((rule) => rule.target === 'deep'),
    raw: enabled.filter((rule) => rule.target === 'raw'),
    agent: enabled.filter((rule) => rule.target === 'agent'),
    inspectSize,
    ownBody: own.some((rule) => rule.body !== null),
    body,
    refusals,
    reasons,
  };
}
