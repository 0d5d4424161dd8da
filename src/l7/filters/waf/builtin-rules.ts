// The built-in probe rules, by set. Each rule has an id (in the 403, the metrics and the request's record)
// and the text it looks at:
//   text      the path and the query, each percent-decoded once (query '+' as space)
//   deep      the same decoded twice (double-encoded traversal: %252e%252e → %2e%2e → ..)
//   raw       the path and query as received (the path after the edge's normalisation)
//   agent     the User-Agent field
// With body inspection on, the sqli and xss rules also look at a form-urlencoded body (decoded once, as a
// query) and a JSON body (its raw text). In JSON a double quote is structure, not a string break (one
// inside a string is written \"), so a rule keyed to quotes has a `json` variant that treats only ' ` and
// \" as quotes: "#fff" or "android is …" in a JSON document are not comment-outs or tautologies.
// The patterns aim at probes, not at ordinary text: a quote must precede the SQL keywords of a tautology,
// a tag must open for XSS, a dot-dot must touch a separator. Every pattern is linear (no nested
// repetition, no two repetitions that can share the same characters) and matched case-insensitively.
import type { WafBuiltinSet } from '../../../config/index.ts';

export type BuiltinTarget = 'text' | 'deep' | 'raw' | 'agent';

export interface BuiltinRule {
  readonly id: string;
  readonly set: WafBuiltinSet;
  readonly target: BuiltinTarget;
  readonly pattern: RegExp;
  /** The pattern for a JSON body's raw text when it differs (quotes). */
  readonly json?: RegExp;
}

export const builtinRules: readonly BuiltinRule[] = [
  // ' or 1=1, " OR "a"="a, ') or ('1'='1, ' or ''=', 1 or 1=1 (a whole word: "orange is" is not one)
  {
    id: 'sqli-tautology',
    set: 'sqli',
    target: 'text',
    pattern: /['"`)]\s*(?:(?:or|and)\b|\|\||&&)[\s(]*(?:['"`]?[\w-]+['"`]?|['"`]{2})\s*(?:=|<|>|like\b|is\b)|\b(?:or|and)\s+(\d+)\s*=\s*\1\b/i,
    json: /(?:['`)]|\\")\s*(?:(?:or|and)\b|\|\||&&)[\s(]*(?:(?:['`]|\\")?[\w-]+(?:['`]|\\")?|['`]{2}|\\"\\")\s*(?:=|<|>|like\b|is\b)|\b(?:or|and)\s+(\d+)\s*=\s*\1\b/i,
  },
  // union select, UNION ALL SELECT, union/**/select
  { id: 'sqli-union', set: 'sqli', target: 'text', pattern: /\bunion[\s/*+(]+(?:(?:all|distinct)[\s/*+(]+)?select\b/i },
  // '; drop table …, ; shutdown, '-- and '# comment-outs
  {
    id: 'sqli-stacked',
    set: 'sqli',
    target: 'text',
    pattern: /;\s*(?:drop|delete|insert|update|alter|create|truncate|shutdown|exec|execute|declare)\s|['"`]\s*(?:--|#|\/\*)/i,
    json: /;\s*(?:drop|delete|insert|update|alter|create|truncate|shutdown|exec|execute|declare)\s|(?:['`]|\\")\s*(?:--|#|\/\*)/i,
  },
  // time-based and catalogue probes
  { id: 'sqli-probe', set: 'sqli', target: 'text', pattern: /\b(?:sleep|pg_sleep|benchmark)\s*\(\s*\d|\bwaitfor\s+delay\s+['"]|\binformation_schema\b|\bxp_cmdshell\b|\bload_file\s*\(/i },

  { id: 'xss-script', set: 'xss', target: 'text', pattern: /<\s*\/?\s*script\b/i },
  // an event handler inside a tag: <img src=x onerror=…>, <body onload=…>
  { id: 'xss-handler', set: 'xss', target: 'text', pattern: /<[a-z][^<>]*[\s/"']on[a-z]{3,20}\s*=/i },
  { id: 'xss-uri', set: 'xss', target: 'text', pattern: /\b(?:javascript|vbscript)\s*:|\bdata\s*:\s*text\/html/i },
  { id: 'xss-tag', set: 'xss', target: 'text', pattern: /<\s*(?:iframe|frame|object|embed|svg|math|base|meta|applet)\b/i },

  { id: 'traversal-dotdot', set: 'traversal', target: 'deep', pattern: /\.\.[/\\]|[/\\=]\.\.(?:$|[&;])/ },
  // encoded dots as received: %2e%2e, %252e, ..%2f, overlong UTF-8 %c0%ae
  { id: 'traversal-encoded', set: 'traversal', target: 'raw', pattern: /%(?:25)*2e(?:%(?:25)*2e|\.)|\.%(?:25)*2e|\.\.%(?:25)*(?:2f|5c)|%(?:25)*c0%(?:25)*(?:ae|af)/i },
  { id: 'traversal-file', set: 'traversal', target: 'deep', pattern: /\/etc\/(?:passwd|shadow|group|hosts)\b|\/proc\/self\/|\bwin\.ini\b|\bboot\.ini\b|[/\\]windows[/\\]system32\b/i },

  { id: 'scanner-agent', set: 'scanners', target: 'agent', pattern: /\b(?:sqlmap|nikto|nmap|masscan|zgrab|nuclei|dirbuster|gobuster|dirb|wpscan|acunetix|nessus|openvas|w3af|havij|fimap|zmeu|jorgee|arachni|whatweb|feroxbuster|ffuf|wfuzz|netsparker|appscan)\b/i },
];
