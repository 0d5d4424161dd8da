// The requests table (GET /api/requests: recent requests of every worker, errors and slow ones always,
// the rest sampled), filterable by status, route and backend; a click on a row opens its waterfall, and so does a link to
// the dashboard ending in #request=<request id>.
/* global URLSearchParams */
import { h } from './render.js';
import { fmt } from './svg.js';
import { renderWaterfall } from './waterfall.js';

const time = (t) => new Date(t).toLocaleTimeString();

/**
 * What the pick considered: every backend of the pool with its state, in-flight count and weight at that
 * moment; for least_conn also the load it compares (in flight per unit of weight).
 */
function candidatesTable(pick) {
  const load = pick.policy === 'least_conn';
  const rows = pick.candidates.map((c) =>
    h(
      'tr',
      { class: `candidate${c.chosen ? ' chosen' : ''}`, 'data-backend': c.backend, 'data-state': c.state },
      h('td', null, c.chosen ? '→' : ''),
      h('td', null, c.backend),
      h('td', null, c.state),
      h('td', null, String(c.inflight)),
      h('td', null, String(c.weight)),
      load ? h('td', { class: 'load' }, fmt(c.weight > 0 ? c.inflight / c.weight : 0)) : '',
    ),
  );
  const caption = `pick (${pick.preferred ? `sticky, else ${pick.policy}` : pick.policy}): candidates when it ran${pick.more > 0 ? ` (${pick.more} more not recorded)` : ''}`;
  const heads = ['', 'backend', 'state', 'in flight', 'weight', ...(load ? ['load'] : [])];
  return h('table', { id: 'pick-candidates', class: 'candidates' }, h('caption', null, caption), h('thead', null, h('tr', null, ...heads.map((t) => h('th', null, t)))), h('tbody', null, ...rows));
}

/**
 * The panel: filter inputs, the table and the waterfall of the selected request. `balanceOf(pool)` gives
 * a pool's policy for the waterfall's pick label. Returns {element, update(requests)}; the filters are
 * read by `query()`.
 */
export function requestsPanel(onFilter, balanceOf) {
  const status = h('input', { id: 'filter-status', name: 'status', placeholder: 'status: 404, 5xx, error', size: 16 });
  const route = h('input', { id: 'filter-route', name: 'route', placeholder: 'route', size: 12 });
  const backend = h('input', { id: 'filter-backend', name: 'backend', placeholder: 'backend host:port', size: 18 });
  const form = h('form', { class: 'filters', onsubmit: (e) => (e.preventDefault(), onFilter()) }, status, route, backend, h('button', { type: 'submit' }, 'Filter'));
  const body = h('tbody');
  const detail = h('div', { id: 'waterfall', class: 'waterfall-box' });
  let selected;
  let rows = [];

  const open = (request) => {
    selected = request.id + request.time;
    for (const tr of body.children) tr.classList.toggle('selected', tr.dataset.key === selected);
    detail.replaceChildren(
      h('h3', null, `${request.method} ${request.host}${request.path} → ${request.status}`, h('span', { class: 'meta' }, ` ${time(request.time)} · ${request.kept}${request.traceId ? ` · trace ${request.traceId}` : ''}`)),
      renderWaterfall(request, balanceOf(request.pool)),
      request.serverTiming ? h('p', { class: 'meta' }, 'upstream Server-Timing: ', h('code', null, request.serverTiming)) : '',
      request.pick ? candidatesTable(request.pick) : '',
    );
  };

  /** Opens the waterfall of request `id` (a link's #request=<id>), asked of the server by id: it may be older than the table's rows. */
  const openById = async (id, getJson) => {
    const [request] = await getJson(`/api/requests?${new URLSearchParams({ request_id: id, limit: '1' })}`);
    if (request) open(request);
    else detail.replaceChildren(h('p', { class: 'meta' }, `request ${id} is not among the recent requests (the ring keeps errors, slow requests and a sample of the rest)`));
  };

  const update = (requests) => {
    rows = requests;
    body.replaceChildren(
      ...rows.map((r) => {
        const key = r.id + r.time;
        return h(
          'tr',
          { class: `request${key === selected ? ' selected' : ''}`, 'data-key': key, 'data-status': r.status, 'data-reason': r.reason, 'data-route': r.route, onclick: () => open(r) },
          h('td', null, time(r.time)),
          h('td', null, r.method),
          h('td', { class: 'path' }, `${r.host}${r.path}`),
          h('td', null, h('span', { class: `status s${Math.floor(r.status / 100)}xx` }, r.status)),
          h('td', null, r.route),
          h('td', null, r.backend),
          h('td', { class: 'reason' }, r.reason),
          h('td', null, fmt(r.phases.done)),
        );
      }),
    );
  };

  const query = () => {
    const params = new URLSearchParams({ limit: '100' });
    for (const [name, input] of [['status', status], ['route', route], ['backend', backend]]) if (input.value.trim()) params.set(name, input.value.trim());
    return params;
  };

  const element = h(
    'div',
    null,
    form,
    h('table', { id: 'requests', class: 'requests' }, h('thead', null, h('tr', null, ...['time', 'method', 'request', 'status', 'route', 'backend', 'reason', 'ms'].map((t) => h('th', null, t)))), body),
    detail,
  );
  return { element, update, query, openById };
}
