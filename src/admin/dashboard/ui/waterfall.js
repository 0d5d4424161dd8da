// One request's waterfall (a GET /api/requests entry): a bar per phase on one time axis, from the request's
// arrival (0: the TCP accept for the first request of a connection) to its last byte — the TLS handshake
// of a new TLS connection, headers read, route, each filter of the route on its own row (its request-phase
// and response-phase times), and each upstream attempt as a bar (backend picked → try done) with its parts
// inside — connect, wait for the first byte, body; a filter's body transform (compression, a cache store) is
// a part of its row from its first byte in to its last byte out. Failed tries before the last one (retries) get their
// own attempt rows with why they failed. The application's own Server-Timing entries
// (app, db, …) drawn inside that bar, ending where the upstream's first byte came: that is where the
// application spent them. The edge cannot see where inside the wait they began, so they are right-aligned
// to the first byte and clipped to the bar.
import { fmt, s } from './svg.js';

/** Server-Timing entries with a dur: [{name, dur, desc}] (a small parser: quoted commas are rare here). */
export function parseServerTiming(value) {
  const out = [];
  for (const part of (value ?? '').split(',')) {
    const [name, ...params] = part.split(';').map((p) => p.trim());
    if (!name) continue;
    let dur;
    let desc = '';
    for (const param of params) {
      const eq = param.indexOf('=');
      const key = (eq < 0 ? param : param.slice(0, eq)).toLowerCase();
      const val = eq < 0 ? '' : param.slice(eq + 1).replace(/^"|"$/g, '');
      if (key === 'dur' && dur === undefined && Number.isFinite(Number(val))) dur = Number(val);
      if (key === 'desc') desc = val;
    }
    if (dur !== undefined) out.push({ name, dur, desc });
  }
  return out;
}

const at = (t) => (t !== undefined && t >= 0 ? t : undefined);

/** The pick's candidates as lines for the pick row's tooltip: `→ a:80 usable, 2 in flight, weight 1`. */
export function candidateLines(pick) {
  const lines = (pick?.candidates ?? []).map((c) => `${c.chosen ? '→' : '  '} ${c.backend} ${c.state}, ${c.inflight} in flight, weight ${c.weight}`);
  if (pick?.more > 0) lines.push(`  … ${pick.more} more not recorded`);
  return lines;
}

/** The pick row's label: the policy (sticky when a filter's preferred backend was taken), the usable count and the choice. */
function pickLabel(request, balance) {
  const pick = request.pick;
  const policy = pick?.policy ?? balance ?? 'policy';
  if (!pick) return `pick: ${policy} → ${request.backend || 'none'}`;
  const usable = pick.candidates.filter((c) => c.state === 'usable').length;
  const chosen = pick.candidates.find((c) => c.chosen)?.backend;
  return `pick: ${pick.preferred ? `sticky (${policy})` : policy}, ${usable}/${pick.candidates.length + pick.more} usable → ${chosen ?? 'none'}`;
}

/**
 * The rows: [{phase, label, from, to, attempt?, filter?, parts?: [{name, from, to}], timing?: [{name, from, to}]}].
 * A filter row's bar is its request phase (else its response phase); both phases are parts inside it.
 * The pick row carries `candidates`: the lines of what the pick considered (request.pick), when recorded.
 */
export function waterfallRows(request, balance) {
  const p = request.phases;
  const done = p.done;
  const earlier = request.earlierAttempts ?? [];
  const rows = [{ phase: 'request', label: `${request.method} ${request.path}`, from: 0, to: done }];
  const tls = at(p.tls);
  if (tls !== undefined) rows.push({ phase: 'tls', label: 'TLS handshake (new connection)', from: 0, to: tls });
  const arrived = at(p.arrived);
  if (arrived !== undefined) rows.push({ phase: 'accept', label: tls !== undefined ? 'TLS done → first byte' : 'accepted → first byte (new connection)', from: tls ?? 0, to: arrived });
  const head = at(p.head);
  if (head !== undefined) rows.push({ phase: 'headers', label: 'headers read', from: arrived ?? tls ?? 0, to: head });
  const pick = at(p.pick);
  const firstPick = earlier.length > 0 ? at(earlier[0].pick) ?? pick : pick;
  const afterHead = head ?? 0;
  const filters = request.filters ?? [];
  if (request.route || pick !== undefined) {
    const label = `route ${request.route || '(none)'}${filters.length > 0 ? ` + ${filters.length} filter(s)` : ''}`;
    rows.push({ phase: 'route', label, from: afterHead, to: firstPick ?? (at(p.firstByte) === undefined ? done : afterHead) });
  }
  for (const filter of filters) {
    const parts = [];
    if (filter.request) parts.push({ name: 'request', from: filter.request[0], to: at(filter.request[1]) ?? done });
    if (filter.upstream) parts.push({ name: 'upstream-head', from: filter.upstream[0], to: at(filter.upstream[1]) ?? done });
    if (filter.response) parts.push({ name: 'response', from: filter.response[0], to: at(filter.response[1]) ?? done });
    if (filter.body) parts.push({ name: 'transform', from: filter.body[0], to: at(filter.body[1]) ?? done });
    if (parts.length === 0) continue;
    const ms = parts.map((part) => `${SHORT[part.name]} ${fmt(part.to - part.from)}`).join(', ');
    rows.push({ phase: 'filter', filter: filter.name, label: `filter ${filter.name}: ${ms} ms`, from: parts[0].from, to: parts[0].to, parts });
  }
  earlier.forEach((attempt, i) => {
    const from = at(attempt.pick) ?? afterHead;
    const end = at(attempt.done) ?? from;
    rows.push({ phase: 'attempt', attempt: i + 1, label: `attempt ${i + 1}: ${attempt.backend} → ${attempt.outcome}`, from, to: end, parts: attemptParts(from, at(attempt.connected), at(attempt.firstByte), end) });
  });
  if (pick === undefined && request.pick) {
    // no backend was usable (503): the pick happened where the route's work ended
    const end = Math.max(afterHead, ...filters.flatMap((f) => [f.request?.[1] ?? 0, f.upstream?.[1] ?? 0]));
    rows.push({ phase: 'pick', label: pickLabel(request, balance), from: end, to: end, candidates: candidateLines(request.pick) });
  }
  if (pick !== undefined) {
    rows.push({ phase: 'pick', label: pickLabel(request, balance), from: pick, to: pick, candidates: candidateLines(request.pick) });
    const connected = at(p.connected);
    const firstByte = at(p.firstByte);
    const timing = [];
    if (firstByte !== undefined) {
      const floor = connected ?? pick;
      // longest first: a shorter entry (db) is drawn over the longer one it happened inside (app)
      for (const entry of parseServerTiming(request.serverTiming).sort((a, b) => b.dur - a.dur)) {
        const from = Math.max(floor, firstByte - entry.dur);
        timing.push({ name: entry.name, dur: entry.dur, from, to: firstByte });
      }
    }
    const n = earlier.length + 1;
    rows.push({ phase: 'upstream', attempt: n, label: `upstream ${request.backend} (attempt ${n})`, from: pick, to: done, parts: attemptParts(pick, connected, firstByte, done), timing });
  }
  const firstByte = at(p.firstByte);
  rows.push({ phase: 'response', label: `response ${request.status}${request.reason ? ` (${request.reason})` : ''}`, from: firstByte ?? (head ?? 0), to: done });
  return rows;
}

/** A filter's phases as its row's label names them. */
const SHORT = { request: 'req', 'upstream-head': 'up', response: 'resp', transform: 'body' };

/** An attempt's parts: connect, wait for the first byte, body (each only when it happened). */
function attemptParts(pick, connected, firstByte, done) {
  const parts = [];
  if (connected !== undefined) parts.push({ name: 'connect', from: pick, to: connected });
  if (firstByte !== undefined) parts.push({ name: 'wait', from: connected ?? pick, to: firstByte });
  else if (connected !== undefined && done > connected) parts.push({ name: 'wait', from: connected, to: done });
  if (firstByte !== undefined) parts.push({ name: 'body', from: firstByte, to: done });
  return parts;
}

const ROW = 22;
const LABEL = 250;
const WIDTH = 760;

/** The SVG of a request's waterfall; `balance`: the pool's policy name when known. */
export function renderWaterfall(request, balance) {
  const rows = waterfallRows(request, balance);
  const span = Math.max(request.phases.done, 0.001);
  const x = (t) => LABEL + ((WIDTH - LABEL - 60) * t) / span;
  const width = (from, to) => Math.max(x(to) - x(from), 1.5);
  const svg = s('svg', { class: 'waterfall', width: WIDTH, height: rows.length * ROW + 24, 'data-request': request.id, viewBox: `0 0 ${WIDTH} ${rows.length * ROW + 24}` });
  rows.forEach((row, i) => {
    const y = i * ROW + 4;
    const g = s('g', { class: `wf-row wf-${row.phase}`, 'data-phase': row.phase, 'data-attempt': row.attempt, 'data-filter': row.filter });
    const label = s('text', { x: 4, y: y + 14, class: 'wf-label' }, row.label);
    if (row.candidates?.length) label.append(s('title', null, row.candidates.join('\n')));
    g.append(label);
    const bar = s('rect', { class: 'wf-bar', x: x(row.from), y, width: width(row.from, row.to), height: ROW - 6, 'data-from': row.from, 'data-to': row.to });
    const tip = `${row.label}: ${fmt(row.from)}–${fmt(row.to)} ms`;
    bar.append(s('title', null, row.candidates?.length ? `${tip}\n${row.candidates.join('\n')}` : tip));
    g.append(bar);
    for (const part of row.parts ?? []) {
      const r = s('rect', { class: `wf-part wf-part-${part.name}`, 'data-part': part.name, x: x(part.from), y: y + 2, width: width(part.from, part.to), height: ROW - 10, 'data-from': part.from, 'data-to': part.to });
      r.append(s('title', null, `${part.name}: ${fmt(part.to - part.from)} ms`));
      g.append(r);
    }
    (row.timing ?? []).forEach((entry, depth) => {
      const inset = 4 + Math.min(depth, 2) * 2;
      const r = s('rect', { class: `wf-timing wf-timing-${entry.name}`, 'data-timing': entry.name, x: x(entry.from), y: y + inset, width: width(entry.from, entry.to), height: ROW - 6 - 2 * inset, 'data-from': entry.from, 'data-to': entry.to });
      r.append(s('title', null, `${entry.name} (Server-Timing): ${fmt(entry.dur)} ms`));
      g.append(r);
    });
    g.append(s('text', { x: x(row.to) + 4, y: y + 14, class: 'wf-ms' }, `${fmt(row.to - row.from)} ms`));
    svg.append(g);
  });
  svg.append(s('text', { x: LABEL, y: rows.length * ROW + 18, class: 'wf-axis' }, `0 ms … ${fmt(span)} ms after the request arrived`));
  return svg;
}
