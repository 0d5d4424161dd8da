// The dashboard page: follows GET /api/events (server-sent events, one snapshot a second) and redraws the
// topology; polls the requests table (GET /api/requests, every 2 s), the pool charts and the health
// timeline (GET /api/history, every 5 s) and the DNS panel (GET /api/dns). Every action (drain, enable,
// reload, cache purge) asks for confirmation, then POSTs with the session cookie (sent by the browser) and
// the CSRF value the server put in the page. Bundled by esbuild (src/admin/dashboard/assets.ts).
/* global EventSource, URLSearchParams, confirm, location */
import { h, renderTopology } from './render.js';
import { renderPoolCharts, renderTimeline } from './charts.js';
import { requestsPanel } from './requests.js';
import { renderDns } from './dns.js';

const app = document.getElementById('app');
const connection = document.getElementById('connection');
const csrf = document.querySelector('meta[name="switchyard-csrf"]')?.getAttribute('content') ?? '';
const notice = h('p', { id: 'notice', class: 'notice' });
const view = h('div', { id: 'topology' });
const charts = h('div', { id: 'pool-charts' });
const timeline = h('div', { id: 'timeline' });
const dnsView = h('div', { id: 'dns' });
let pools = [];

async function post(path, body) {
  const response = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'x-switchyard-csrf': csrf, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { response, body: await response.json().catch(() => ({})) };
}

async function act(pool, backend, action) {
  if (!confirm(`${action === 'drain' ? 'Drain' : 'Enable'} backend ${backend} of pool ${pool}?`)) return;
  const { response, body } = await post(`/api/pools/${encodeURIComponent(pool)}/backends/${encodeURIComponent(backend)}/${action}`);
  notice.textContent = response.ok ? `${backend} in ${pool}: ${body.state}` : `${action} failed: ${body.error ?? response.status}`;
}

async function reload() {
  if (!confirm('Reload the configuration file? A config that does not load leaves the running one in place.')) return;
  notice.textContent = 'reloading…';
  const { response, body } = await post('/api/reload');
  notice.textContent = response.ok ? `reloaded ${body.config ?? ''}` : `reload failed: ${body.error ?? response.status}`;
}

const purgeTarget = h('input', { id: 'purge-url', name: 'url', placeholder: 'https://host/path or prefix', size: 30 });
const purgePrefix = h('input', { id: 'purge-prefix', type: 'checkbox' });
async function purge() {
  const target = purgeTarget.value.trim();
  if (!target) {
    notice.textContent = 'cache purge: give a URL (or a prefix, with "prefix" ticked)';
    return;
  }
  const what = purgePrefix.checked ? 'prefix' : 'url';
  if (!confirm(`Purge the cache for ${what === 'prefix' ? 'every URL under ' : ''}${target}?`)) return;
  const { response, body } = await post('/api/cache/purge', { [what]: target });
  notice.textContent = response.ok ? `cache purge: ${body.purged ?? 0} entries dropped` : `cache purge failed: ${body.error ?? response.status}`;
}

const actions = h(
  'div',
  { class: 'actions' },
  h('button', { id: 'action-reload', onclick: () => void reload() }, 'Reload config'),
  h('span', { class: 'purge' }, purgeTarget, h('label', null, purgePrefix, ' prefix'), h('button', { id: 'action-purge', onclick: () => void purge() }, 'Purge cache')),
);

const requests = requestsPanel(() => void pollRequests(), (pool) => pools.find((p) => p.name === pool)?.balance);
const section = (id, title, ...children) => h('section', { id: `section-${id}` }, h('h2', null, title), ...children);
app.append(actions, notice, view, section('charts', 'Pools over the last 15 minutes', charts), section('requests', 'Recent requests', requests.element), section('timeline', 'Health and ejections', timeline), section('dns', 'DNS', dnsView));

async function getJson(path) {
  const response = await fetch(path, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// Polls overlap when the edge is slow to answer (a filter submitted while the timer's poll is out): only
// the answer to the latest question may fill the table, or a late unfiltered answer undoes a filter.
let requestsAsked = 0;
async function pollRequests() {
  const asked = ++requestsAsked;
  try {
    const answer = await getJson(`/api/requests?${requests.query()}`);
    if (asked === requestsAsked) requests.update(answer);
  } catch (err) {
    if (asked === requestsAsked) notice.textContent = `requests: ${err.message}`;
  }
}

async function pollHistory() {
  try {
    const history = await getJson('/api/history');
    charts.replaceChildren(...renderPoolCharts(history));
    timeline.replaceChildren(...renderTimeline(history));
    dnsView.replaceChildren(...renderDns(await getJson('/api/dns')));
  } catch (err) {
    notice.textContent = `history: ${err.message}`;
  }
}

const events = new EventSource('/api/events');
events.addEventListener('open', () => {
  connection.textContent = 'live';
  connection.className = 'conn live';
});
events.addEventListener('error', () => {
  connection.textContent = 'disconnected, retrying…';
  connection.className = 'conn down';
});
events.addEventListener('snapshot', (event) => {
  const snapshot = JSON.parse(event.data);
  pools = snapshot.pools ?? [];
  view.replaceChildren(...renderTopology(snapshot, act));
});
events.addEventListener('failure', (event) => {
  notice.textContent = `snapshot failed: ${JSON.parse(event.data).error}`;
});

// #request=<id> (the demo page's call log links here): open that request's waterfall
async function openLinked() {
  const id = new URLSearchParams(location.hash.slice(1)).get('request');
  if (!id) return;
  try {
    await requests.openById(id, getJson);
    document.getElementById('waterfall').scrollIntoView();
  } catch (err) {
    notice.textContent = `request ${id}: ${err.message}`;
  }
}
window.addEventListener('hashchange', () => void openLinked());

void pollRequests();
void openLinked();
void pollHistory();
setInterval(() => void pollRequests(), 2000);
setInterval(() => void pollHistory(), 5000);
