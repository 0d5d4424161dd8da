// The dashboard's two HTML documents: the login form (a plain form; its one small script only carries a
// link's fragment through the sign-in) and the shell the bundled script
// fills. Both go out with a strict Content-Security-Policy (everything from the admin origin only, no
// inline script or style) and X-Frame-Options DENY, so the page works offline and cannot be framed.
import type http from 'node:http';

const securityHeaders = {
  'content-security-policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const htmlDocument = (title: string, body: string, head = ''): string =>
  `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">` +
  `<title>${escapeHtml(title)}</title><link rel="stylesheet" href="/dashboard/app.css">${head}</head><body>${body}</body></html>\n`;

export function sendHtml(response: http.ServerResponse, status: number, html: string, extra: Record<string, string> = {}): void {
  response.writeHead(status, { ...securityHeaders, 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), ...extra });
  response.end(html);
}

/** A static asset of the dashboard (the bundle, the stylesheet), under the same headers. */
export function sendAsset(response: http.ServerResponse, contentType: string, text: string): void {
  response.writeHead(200, { ...securityHeaders, 'cache-control': 'no-cache', 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

/**
 * The login page's only script: a link into the dashboard (#request=<id>) keeps its fragment through the
 * sign-in, as the form posts to /dashboard/login#… and the 303 to /dashboard inherits it.
 */
export const loginScript = `const form = document.getElementById('login-form');\nif (form && location.hash) form.action = '/dashboard/login' + location.hash;\n`;

export function loginPage(message?: string): string {
  const error = message ? `<p id="login-error" class="error">${escapeHtml(message)}</p>` : '';
  return htmlDocument(
    'Switchyard — sign in',
    `<main class="login"><h1>Switchyard</h1><form id="login-form" method="post" action="/dashboard/login">` +
      `<label>Admin token <input type="password" name="token" autocomplete="current-password" required autofocus></label>` +
      `<button type="submit">Sign in</button></form>${error}</main>`,
    '<script src="/dashboard/login.js" defer></script>',
  );
}

export function appPage(csrf: string): string {
  return htmlDocument(
    'Switchyard',
    `<header><h1>Switchyard</h1><span id="connection" class="conn">connecting…</span></header><main id="app"></main>`,
    `<meta name="switchyard-csrf" content="${escapeHtml(csrf)}"><script type="module" src="/dashboard/app.js"></script>`,
  );
}
