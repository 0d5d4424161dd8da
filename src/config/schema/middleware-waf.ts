// `waf`: request rules at the edge (method, path, query, headers, body prefix, client address) and a small
// built-in rule set for common probes. Patterns and CIDRs stay text in the config (it crosses to workers by
// structured clone); they are checked here and compiled when the filter is built.
import { z } from 'zod';
import { cidr, size } from './common.ts';
import { regexHazard } from './regex-safety.ts';

export const wafBuiltinSets = ['sqli', 'xss', 'traversal', 'scanners'] as const;
export type WafBuiltinSet = (typeof wafBuiltinSets)[number];

/** A JavaScript regular expression (case-insensitive when compiled), refused when invalid or prone to catastrophic backtracking. */
const pattern = z
  .string()
  .min(1)
  .superRefine((source, ctx) => {
    try {
      new RegExp(source, 'i');
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `expected a regular expression, got ${JSON.stringify(source)}: ${(err as Error).message}` });
      return;
    }
    const hazard = regexHazard(source);
    if (hazard !== undefined) ctx.addIssue({ code: 'custom', message: `expected a pattern without nested or overlapping repetition, got ${JSON.stringify(source)}: ${hazard}` });
  });

/** An address or CIDR, kept as written (validated here). */
const cidrText = z.string().superRefine((text, ctx) => {
  const parsed = cidr.safeParse(text);
  if (!parsed.success) for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', message: issue.message });
});

/** A request header to read (any token: rules may look at host or content-type too); lower-cased. */
const fieldName = z
  .string()
  .transform((name) => name.toLowerCase())
  .refine((name) => /^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(name), { message: 'expected a header name (token characters)' });

const ruleId = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, { message: 'expected a rule id of lower-case letters, digits, _ . - (at most 64)' });

export const wafRuleSchema = z
  .strictObject({
    /** Names the rule in the 403, the metrics and the request's record. */
    id: ruleId,
    /** block (403) or allow (the request skips every later rule and the built-in set). */
    action: z.enum(['block', 'allow']).default('block'),
    /** Methods the rule applies to (upper case); absent: any. */
    methods: z.array(z.string().regex(/^[A-Z]+$/, { message: 'expected an upper-case method' })).min(1).optional(),
    /** Pattern on the path, percent-decoded once. */
    path: pattern.optional(),
    /** Pattern on the query (without '?'), percent-decoded once, '+' as space. */
    query: pattern.optional(),
    /** Header name → pattern on its first value; a missing header does not match. */
    headers: z.record(fieldName, pattern).optional(),
    /**
     * Pattern on the body's first `body.inspect_size` bytes (as Latin-1 text; a form-urlencoded body
     * percent-decoded once, '+' as space); a request without a body does not match. Needs `body`.
     */
    body: pattern.optional(),
  })
  .refine((rule) => rule.methods !== undefined || rule.path !== undefined || rule.query !== undefined || rule.headers !== undefined || rule.body !== undefined, {
    message: 'expected at least one of methods, path, query, headers or body (a rule without a condition would match every request)',
  });

/** The largest body prefix the waf reads: it is held in memory per request until the rules have run. */
export const wafMaxInspectSize = 65_536;

/**
 * Body inspection (off unless `body` is given): the edge reads up to `inspect_size` bytes of a request
 * body before the rules run, whatever the packets or chunks it arrives in, so the request (and its body)
 * waits for that many bytes or the body's end.
 */
export const wafBodySchema = z.strictObject({
  /** Bytes of the body matched (at most 64kb). */
  inspect_size: size
    .default(8192)
    .refine((bytes) => bytes >= 1 && bytes <= wafMaxInspectSize, { message: `expected an inspect_size from 1b to 64kb (the prefix is held in memory per request)` }),
});

export const wafFilterSchema = z
  .strictObject({
    /** block: a matching request gets 403; detect: it is counted and passes. */
    mode: z.enum(['block', 'detect']).default('block'),
    /** Built-in probe rule sets. */
    builtin: z.array(z.enum(wafBuiltinSets)).default([...wafBuiltinSets]),
    /** Own rules, checked in order before the built-in set; the first match decides. */
    rules: z.array(wafRuleSchema).default([]),
    /** Clients refused (deny wins over allow). */
    deny: z.array(cidrText).default([]),
    /** When set, only these clients pass. */
    allow: z.array(cidrText).optional(),
    /** Body inspection: absent, the body is not read (own `body` rules refused, built-in sets on the head only). */
    body: wafBodySchema.optional(),
  })
  .superRefine((settings, ctx) => {
    const seen = new Set<string>();
    settings.rules.forEach((rule, index) => {
      if (rule.body !== undefined && settings.body === undefined) {
        ctx.addIssue({ code: 'custom', path: ['rules', index, 'body'], message: `expected waf.body (e.g. body: { inspect_size: 8kb }) for rule ${rule.id} to match the body: without it the body is not read` });
      }
      if (seen.has(rule.id)) ctx.addIssue({ code: 'custom', path: ['rules', index, 'id'], message: `expected unique rule ids, got ${rule.id} twice` });
      seen.add(rule.id);
    });
  });
