// Routes are tried in order and the first match wins, so a route whose every request an earlier route
// already takes never runs. covers() is conservative: it answers true only when that is certain from the
// match fields alone (a regex is compared as text), so a refusal is never a false alarm.
import type { MatchConfig } from './schema/index.ts';

type HostList = readonly string[];

function hostsOf(match: MatchConfig): HostList | undefined {
  return match.host === undefined ? undefined : Array.isArray(match.host) ? match.host : [match.host];
}

/** A host pattern of `outer` matches every host `inner` names. */
function hostCovered(outer: HostList, inner: string): boolean {
  if (outer.includes(inner)) return true;
  if (inner.startsWith('*.')) return false;
  // "*.example.test" matches exactly one label before the suffix
  const dot = inner.indexOf('.');
  return dot > 0 && outer.includes(`*${inner.slice(dot)}`);
}

const pathAny = (match: MatchConfig): boolean => match.path === undefined && match.path_regex === undefined && (match.path_prefix === undefined || match.path_prefix === '/');

function pathCovered(outer: MatchConfig, inner: MatchConfig): boolean {
  if (pathAny(outer)) return true;
  if (outer.path !== undefined) return inner.path === outer.path;
  if (outer.path_prefix !== undefined) {
    if (inner.path !== undefined) return inner.path.startsWith(outer.path_prefix);
    return inner.path_prefix !== undefined && inner.path_prefix.startsWith(outer.path_prefix) && inner.path_regex === undefined;
  }
  return inner.path_regex === outer.path_regex && inner.path === undefined && inner.path_prefix === undefined;
}

/** True when every request `inner` matches is matched by `outer` too. */
export function covers(outer: MatchConfig, inner: MatchConfig): boolean {
  const outerHosts = hostsOf(outer);
  if (outerHosts !== undefined) {
    const innerHosts = hostsOf(inner);
    if (innerHosts === undefined || !innerHosts.every((host) => hostCovered(outerHosts, host))) return false;
  }
  if (!pathCovered(outer, inner)) return false;
  if (outer.methods !== undefined && (inner.methods === undefined || !inner.methods.every((method) => outer.methods!.includes(method)))) return false;
  if (outer.headers !== undefined) {
    for (const [name, rule] of Object.entries(outer.headers)) {
      if (JSON.stringify(inner.headers?.[name]) !== JSON.stringify(rule)) return false;
    }
  }
  return true;
}

/** A one-line description of what a match takes, for messages. */
export function describeMatch(match: MatchConfig): string {
  const parts = Object.entries(match).map(([key, value]) => `${key}: ${JSON.stringify(value)}`);
  return parts.length === 0 ? 'every request' : parts.join(', ');
}
