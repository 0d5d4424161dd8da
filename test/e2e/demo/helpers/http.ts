// A thin fetch wrapper for the demo API tests: JSON in, status + headers + parsed JSON out.
export interface CallOptions {
  token?: string;
  cookie?: string;
  body?: unknown;
  /** Sent verbatim instead of JSON.stringify(body). */
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface CallResult {
  status: number;
  headers: Headers;
  json: any;
  ms: number;
}

export async function call(base: string, method: string, pathname: string, options: CallOptions = {}): Promise<CallResult> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.cookie) headers.cookie = options.cookie;
  let body: string | undefined = options.rawBody;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  const started = performance.now();
  const response = await fetch(new URL(pathname, base), { method, headers, body, signal: AbortSignal.timeout(10_000) });
  const text = await response.text();
  const ms = performance.now() - started;
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = text;
  }
  return { status: response.status, headers: response.headers, json, ms };
}

/** Logs in and returns the token and the `name=value` part of the session cookie. */
export async function login(base: string, username: string, password: string): Promise<{ token: string; cookie: string; userId: number }> {
  const response = await call(base, 'POST', '/api/login', { body: { username, password } });
  if (response.status !== 200) throw new Error(`login ${username}: ${response.status} ${JSON.stringify(response.json)}`);
  const cookie = response.headers.getSetCookie()[0].split(';')[0];
  return { token: response.json.token, cookie, userId: response.json.user.id };
}
