// Per-pool charts over the last 15 minutes (GET /api/history: a point every few seconds), drawn as plain
// SVG polylines: requests per second by status class, and latency percentiles. Plus the health and
// ejection timeline. No chart library: two small line charts need none.
import { h } from './render.js';
import { fmt, s } from './svg.js';

const W = 360;
const H = 120;
const PAD = { left: 36, right: 8, top: 8, bottom: 18 };
const WINDOW_MS = 15 * 60 * 1000;

/** A line chart of `series` ([{name, cls, values: [[t, v|null]]}]) over the last 15 minutes ending at `end`. */
function lineChart(title, unit, series, end, kind) {
  const max = Math.max(1e-9, ...series.flatMap((line) => line.values.map(([, v]) => v ?? 0)));
  const x = (t) => PAD.left + ((W - PAD.left - PAD.right) * (t - (end - WINDOW_MS))) / WINDOW_MS;
  const y = (v) => H - PAD.bottom - ((H - PAD.top - PAD.bottom) * v) / max;
  const points = series.reduce((n, line) => n + line.values.filter(([, v]) => v !== null).length, 0);
  const svg = s('svg', { class: 'chart', width: W, height: H, viewBox: `0 0 ${W} ${H}`, 'data-chart': kind, 'data-points': points });
  svg.append(s('line', { class: 'axis', x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom }));
  svg.append(s('text', { class: 'tick', x: 2, y: PAD.top + 8 }, fmt(max)));
  svg.append(s('text', { class: 'tick', x: 2, y: H - PAD.bottom }, '0'));
  svg.append(s('text', { class: 'tick', x: PAD.left, y: H - 4 }, '−15 min'));
  svg.append(s('text', { class: 'tick', x: W - PAD.right - 22, y: H - 4 }, 'now'));
  for (const line of series) {
    const coords = line.values.filter(([, v]) => v !== null).map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`);
    if (coords.length === 0) continue;
    svg.append(s('polyline', { class: `series ${line.cls}`, points: coords.join(' ') }, s('title', null, line.name)));
    // a lone point has no line to show: a dot each
    for (const c of coords) {
      const [cx, cy] = c.split(',');
      svg.append(s('circle', { class: `dot ${line.cls}`, cx, cy, r: 1.8 }));
    }
  }
  const legend = h('div', { class: 'legend' }, series.map((line) => h('span', { class: `key ${line.cls}` }, line.name)));
  return h('figure', { class: 'chart-box' }, h('figcaption', null, `${title} (${unit})`), svg, legend);
}

/** One block per pool: rate by class and latency percentiles. */
export function renderPoolCharts(history) {
  const end = Date.now();
  const pools = Object.entries(history?.pools ?? {});
  if (pools.length === 0) return [h('p', { class: 'meta' }, 'No samples yet: a point is added every few seconds.')];
  return pools.map(([pool, points]) => {
    const classes = ['1xx', '2xx', '3xx', '4xx', '5xx'];
    const rate = classes.map((name, i) => ({ name, cls: `c${name}`, values: points.map((p) => [p.t, p.classes[i]]) })).filter((line) => line.name === '2xx' || line.values.some(([, v]) => v > 0));
    const latency = ['p50', 'p90', 'p99'].map((q) => ({ name: q, cls: q, values: points.map((p) => [p.t, p[q]]) }));
    const last = points[points.length - 1];
    return h(
      'section',
      { class: 'pool-charts', 'data-pool-charts': pool },
      h('h3', null, pool, h('span', { class: 'meta' }, last ? ` ${fmt(last.rate)} req/s · p50 ${fmt(last.p50)} ms · p99 ${fmt(last.p99)} ms` : '')),
      h('div', { class: 'charts' }, lineChart('requests', 'per second', rate, end, 'rate'), lineChart('latency', 'ms', latency, end, 'latency')),
    );
  });
}

const time = (t) => new Date(t).toLocaleTimeString();

/** The health and ejection timeline, newest first. */
export function renderTimeline(history) {
  const events = history?.health ?? [];
  if (events.length === 0) return [h('p', { class: 'meta' }, 'No health transitions or ejections yet.')];
  return [
    h(
      'table',
      { class: 'timeline' },
      h('thead', null, h('tr', null, ...['time', 'pool', 'backend', 'event', 'reason'].map((t) => h('th', null, t)))),
      h(
        'tbody',
        null,
        events.map((e) => h('tr', { 'data-event': e.event, 'data-backend': e.backend }, h('td', null, time(e.t)), h('td', null, e.pool), h('td', null, e.backend), h('td', null, h('span', { class: `state state-${e.event}` }, e.event)), h('td', null, e.reason))),
      ),
    ),
  ];
}
