// The demo page: plain JavaScript, no build step. It talks to the API (users and orders services behind
// Switchyard) and shows, for every call, which backend instance answered (X-Instance), the client address
// the application saw (X-Client-Address) and the time spent in the database and the app (Server-Timing),
// with a link to the call's waterfall in Switchyard's dashboard.
/* global FormData, URLSearchParams, location */

/**
 * Where the API lives: https://api.example.test:PORT when the page is served from example.test (the demo
 * stack), the page's own origin otherwise. `?api=` may point at a loopback API (local development and
 * tests); anything else is ignored so a crafted link cannot send your password elsewhere.
 */
function apiBase() {
  const requested = new URLSearchParams(location.search).get('api');
  if (requested && /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(requested)) return requested;
  if (location.hostname === 'example.test') return `${location.protocol}//api.example.test${location.port ? `:${location.port}` : ''}`;
  return location.origin;
}

const api = apiBase();
const state = { user: null, token: null, users: [], tally: new Map() };
const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
  }
}

function cell(text, className) {
  const td = document.createElement('td');
  td.textContent = text ?? '';
  if (className) td.className = className;
  return td;
}

function showMessage(text, isError = false) {
  $('message').textContent = text;
  $('message').className = isError ? 'error' : '';
}

/**
 * A link to the call's waterfall in Switchyard's dashboard: the edge names the request (X-Request-Id) and
 * the dashboard (X-Switchyard-Dashboard) on every API answer. Only an http(s) dashboard URL is linked.
 */
function waterfallCell(entry) {
  const linked = Boolean(entry.requestId) && /^https?:\/\/[^\s#]+$/.test(entry.dashboard ?? '');
  const td = cell(linked ? '' : '—');
  if (linked) {
    const a = document.createElement('a');
    a.href = `${entry.dashboard}#request=${encodeURIComponent(entry.requestId)}`;
    a.target = '_blank';
    a.rel = 'noopener';
    a.className = 'waterfall-link';
    a.textContent = 'waterfall';
    a.title = `request ${entry.requestId} in the dashboard (sign in with the admin token)`;
    td.append(a);
  }
  return td;
}

function logCall(entry) {
  if (entry.instance) state.tally.set(entry.instance, (state.tally.get(entry.instance) ?? 0) + 1);
  const tally = [...state.tally].sort(([a], [b]) => a.localeCompare(b)).map(([name, count]) => `${name} ×${count}`);
  $('instance-tally').textContent = tally.join(', ') || 'none yet';
  const row = document.createElement('tr');
  row.append(
    cell(new Date().toLocaleTimeString()),
    cell(`${entry.method} ${entry.path}`),
    cell(String(entry.status), entry.status >= 200 && entry.status < 400 ? 'status-ok' : 'status-error'),
    cell(entry.instance ?? '—'),
    cell(entry.client ?? '—'),
    cell(entry.timing ?? '—'),
    waterfallCell(entry),
  );
  row.dataset.instance = entry.instance ?? '';
  $('call-rows').prepend(row);
  while ($('call-rows').rows.length > 50) $('call-rows').deleteRow(-1);
}

/** One API call. The session cookie travels with credentials: 'include'; the token from this page's login
 *  is sent as well, so the page keeps working where a browser refuses the cookie. */
async function request(method, path, body) {
  const headers = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (state.token) headers.authorization = `Bearer ${state.token}`;
  let response;
  try {
    response = await fetch(`${api}${path}`, { method, headers, credentials: 'include', body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    logCall({ method, path, status: 'network error' });
    throw new ApiError(0, `${method} ${path}: ${err.message}`);
  }
  const text = await response.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  logCall({
    method,
    path,
    status: response.status,
    instance: response.headers.get('x-instance'),
    client: response.headers.get('x-client-address'),
    timing: response.headers.get('server-timing'),
    requestId: response.headers.get('x-request-id'),
    dashboard: response.headers.get('x-switchyard-dashboard'),
  });
  if (!response.ok) throw new ApiError(response.status, data?.detail ?? `${response.status} ${response.statusText}`);
  return data;
}

function renderSession() {
  $('login-form').hidden = Boolean(state.user);
  $('whoami').hidden = !state.user;
  $('whoami-name').textContent = state.user ? `${state.user.name} (${state.user.username})` : '';
}

async function loadUsers() {
  const { items } = await request('GET', '/api/users?limit=200');
  state.users = items;
  $('user-rows').replaceChildren(
    ...items.map((user) => {
      const row = document.createElement('tr');
      row.append(cell(String(user.id)), cell(user.username), cell(user.name), cell(user.email));
      return row;
    }),
  );
}

async function loadOrders() {
  const { items } = await request('GET', '/api/orders?limit=200');
  const names = new Map(state.users.map((user) => [user.id, user.username]));
  $('order-rows').replaceChildren(
    ...items.map((order) => {
      const row = document.createElement('tr');
      row.dataset.orderId = String(order.id);
      const actions = cell('');
      if (state.user && order.user_id === state.user.id) {
        const remove = document.createElement('button');
        remove.type = 'button';
        remove.className = 'secondary';
        remove.textContent = 'Delete';
        remove.addEventListener('click', () => run(async () => {
          await request('DELETE', `/api/orders/${order.id}`);
          await loadOrders();
        }));
        actions.append(remove);
      }
      row.append(cell(String(order.id)), cell(order.item), cell(String(order.quantity)), cell(order.status), cell(names.get(order.user_id) ?? `#${order.user_id}`), actions);
      return row;
    }),
  );
}

/** Runs an action and reports its failure in the status line instead of an unhandled rejection. */
async function run(action, success) {
  try {
    await action();
    showMessage(success ?? '');
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      state.user = null;
      state.token = null;
      renderSession();
    }
    showMessage(err.message, true);
  }
}

$('login-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  run(async () => {
    const result = await request('POST', '/api/login', { username: form.get('username'), password: form.get('password') });
    state.user = result.user;
    state.token = result.token;
    renderSession();
    await loadOrders();
  }, 'Logged in');
});

$('logout').addEventListener('click', () => run(async () => {
  await request('POST', '/api/logout');
  state.user = null;
  state.token = null;
  renderSession();
  await loadOrders();
}, 'Logged out'));

$('order-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  run(async () => {
    const order = await request('POST', '/api/orders', { item: form.get('item'), quantity: Number(form.get('quantity')) });
    event.target.reset();
    await loadOrders();
    showMessage(`Order #${order.id} created`);
  });
});

$('user-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  run(async () => {
    const user = await request('POST', '/api/users', Object.fromEntries(form));
    event.target.reset();
    await loadUsers();
    showMessage(`User #${user.id} (${user.username}) created`);
  });
});

for (const button of document.querySelectorAll('[data-refresh]')) {
  button.addEventListener('click', () => run(() => (button.dataset.refresh === 'users' ? loadUsers() : loadUsers().then(loadOrders))));
}

$('api-base').textContent = api;
run(async () => {
  try {
    state.user = (await request('GET', '/api/session')).user;
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) throw err;
  }
  renderSession();
  await loadUsers();
  await loadOrders();
});
