// The dashboard page: follows GET /api/events (server-sent events, one snapshot a second) and redraws the
// topology; drain/enable ask for confirmation, then POST with the session cookie (sent by the browser) and
// the CSRF value the server put in the page. Bundled by esbuild (src/admin/dashboard/assets.ts).
/* global EventSource, confirm */
import { h, renderTopology } from './render.js';

const app = document.getElementById('app');
const connection = document.getElementById('connection');
const csrf = document.querySelector('meta[name="switchyard-csrf"]')?.getAttribute('content') ?? '';
const notice = h('p', { id: 'notice', class: 'notice' });
const view = h('div', { id: 'topology' });
app.append(notice, view);

async function act(pool, backend, action) {
  if (!confirm(`${action === 'drain' ? 'Drain' : 'Enable'} backend ${backend} of pool ${pool}?`)) return;
  const response = await fetch(`/api/pools/${encodeURIComponent(pool)}/backends/${encodeURIComponent(backend)}/${action}`, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'x-switchyard-csrf': csrf },
  });
  const body = await response.json().catch(() => ({}));
  notice.textContent = response.ok ? `${backend} in ${pool}: ${body.state}` : `${action} failed: ${body.error ?? response.status}`;
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
  view.replaceChildren(...renderTopology(JSON.parse(event.data), act));
});
events.addEventListener('failure', (event) => {
  notice.textContent = `snapshot failed: ${JSON.parse(event.data).error}`;
});
