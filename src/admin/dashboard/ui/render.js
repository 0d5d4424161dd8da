// Builds the topology view from one snapshot ({status, pools} as GET /api/status and GET /api/pools answer):
// listeners with their routes (counters summed over the traffic workers), then pools with their backends, each coloured by state.
/* global Node */
// Plain DOM: the page has no framework, and every value goes in as text (never as HTML).

/** An element with attributes and children (strings become text nodes). */
export function h(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(name, String(value));
  }
  for (const child of children.flat()) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

/** Listeners by name, their counters summed over the traffic workers. */
function listenerCounters(status) {
  const byName = new Map();
  for (const worker of status?.traffic ?? []) {
    for (const listener of Object.values(worker.listeners ?? {})) {
      const seen = byName.get(listener.name) ?? { address: listener.address, connections: 0, inflight: 0, requests: 0 };
      seen.connections += listener.connections ?? 0;
      seen.inflight += listener.inflight ?? 0;
      seen.requests += listener.requests ?? 0;
      byName.set(listener.name, seen);
    }
  }
  return byName;
}

const address = (a) => (a ? `${a.host}:${a.port}` : '');

/** Where a route (or an L4 listener) goes: a pool links to its section below. */
const target = (pool, action) => (pool === undefined ? h('span', { class: 'own' }, action) : h('a', { href: `#pool-${pool}` }, `pool ${pool}`));

/** One row per listener of the running config (status.topology), its live address and counters joined. */
function listenerRows(status) {
  const counters = listenerCounters(status);
  return (status?.topology ?? []).map((l) => {
    const live = counters.get(l.name);
    const routes = l.routes.length > 0 ? h('ul', { class: 'routes' }, l.routes.map((r) => h('li', null, h('code', null, r.match), ' → ', target(r.pool, r.action)))) : target(l.pool, '');
    return h(
      'tr',
      { 'data-listener': l.name },
      h('td', null, l.name),
      h('td', null, l.protocol),
      h('td', null, live ? address(live.address) : l.listen),
      h('td', null, routes),
      h('td', null, live?.connections ?? 0),
      h('td', null, live?.inflight ?? 0),
      h('td', null, live?.requests ?? 0),
    );
  });
}

/** The whole view; `act(pool, backend, action)` is called when an operator clicks drain or enable. */
export function renderTopology(snapshot, act) {
  const pools = (snapshot.pools ?? []).map((pool) =>
    h(
      'section',
      { class: 'pool', id: `pool-${pool.name}`, 'data-pool': pool.name },
      h('h3', null, pool.name, h('span', { class: 'meta' }, ` ${pool.balance} · ${pool.usable} usable`)),
      h(
        'table',
        null,
        h('thead', null, h('tr', null, ...['backend', 'state', 'weight', 'in flight', 'ejections', ''].map((t) => h('th', null, t)))),
        h(
          'tbody',
          null,
          pool.backends.map((b) => {
            const draining = b.state === 'draining';
            return h(
              'tr',
              { class: 'backend', 'data-backend': b.id, 'data-state': b.state },
              h('td', null, b.id),
              h('td', null, h('span', { class: `state state-${b.state}` }, b.state)),
              h('td', null, b.effective_weight === b.weight ? b.weight : `${b.effective_weight} / ${b.weight}`),
              h('td', null, b.inflight),
              h('td', null, b.ejections),
              h('td', null, h('button', { class: draining ? 'enable' : 'drain', onclick: () => act(pool.name, b.id, draining ? 'enable' : 'drain') }, draining ? 'Enable' : 'Drain')),
            );
          }),
        ),
      ),
    ),
  );
  return [
    h('section', { class: 'listeners' }, h('h2', null, 'Listeners'), h('table', null, h('thead', null, h('tr', null, ...['listener', 'protocol', 'address', 'routes', 'connections', 'in flight', 'requests'].map((t) => h('th', null, t)))), h('tbody', null, listenerRows(snapshot.status)))),
    h('section', { class: 'pools' }, h('h2', null, 'Pools'), pools),
  ];
}
