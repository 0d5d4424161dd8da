// What an HTTP/2 request's fields must be before it may be forwarded (RFC 9113 §8.2.1, §8.3.1), shared by
// both frontends (the codec and node:http2). A request leaves as HTTP/1.1 or HTTP/2 to an upstream; one
// that breaks these rules could say something else there (a space in :method or :path splits the request
// line, a CR/LF in a value starts a new field), so it is malformed and reset before anything is sent.

function table(chars: string): Uint8Array {
  const t = new Uint8Array(128);
  for (const c of chars) t[c.charCodeAt(0)] = 1;
  return t;
}
const TOKEN_SPECIALS = "!#$%&'*+-.^_`|~";
const DIGITS = '0123456789';
const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = LOWER.toUpperCase();
/** tchar (RFC 9110 §5.6.2): a method. */
const TOKEN = table(TOKEN_SPECIALS + DIGITS + LOWER + UPPER);
/** tchar without upper case: a field name as HTTP/2 carries it. */
const NAME = table(TOKEN_SPECIALS + DIGITS + LOWER);
/** reg-name / IP-literal / port characters of an authority; no `@` (userinfo is refused, §8.3.1). */
const HOST = table(`${DIGITS}${LOWER}${UPPER}-._~!$&'()*+,;=:%[]`);

function allIn(text: string, set: Uint8Array): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || set[c] === 0) return false;
  }
  return true;
}

/** A method is a non-empty token. */
export function validMethod(method: string): boolean {
  return method.length > 0 && allIn(method, TOKEN);
}

/** A field name: non-empty, lower-case token characters only. */
export function validName(name: string): boolean {
  return name.length > 0 && allIn(name, NAME);
}

/**
 * A field value: no control character but HTAB (RFC 9113 §8.2.1 forbids NUL, CR and LF; RFC 9110 §5.5 makes
 * the other controls and DEL invalid too, and a downgraded request carries the value to an HTTP/1.1 parser
 * that refuses them: llhttp answers 400, so the edge would forward a request its upstream cannot read,
 * where the edge's own HTTP/1.1 parser refuses the same field), and no space or tab at either end.
 */
export function validValue(value: string): boolean {
  const n = value.length;
  if (n === 0) return true;
  const first = value.charCodeAt(0);
  const last = value.charCodeAt(n - 1);
  if (first === 0x20 || first === 0x09 || last === 0x20 || last === 0x09) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return false;
  }
  return true;
}

/**
 * `:path` as it may become an HTTP/1.1 request-target: origin-form (starts with `/`) of visible US-ASCII,
 * or `*` for OPTIONS only. Normalisation (dot segments, escapes) happens later, in the L7 core.
 */
export function validPath(method: string, path: string): boolean {
  if (path === '*') return method === 'OPTIONS';
  if (path.charCodeAt(0) !== 0x2f) return false;
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

/** `:authority` (or Host): host and port characters, possibly empty. */
export function validAuthority(authority: string): boolean {
  return allIn(authority, HOST);
}

/**
 * Whether a raw [name, value, …] request list (node:http2's rawHeaders) keeps the rules above. node:http2
 * (nghttp2) checks framing-level rules itself; this adds what a downgrade to HTTP/1.1 needs. The codec
 * applies the same checks while it splits the list (codec/request-fields.ts).
 */
export function rawRequestValid(raw: readonly string[]): boolean {
  let method = '';
  let path = '';
  let authority = '';
  let host = '';
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i];
    const value = raw[i + 1];
    if (!validValue(value)) return false;
    if (name.charCodeAt(0) === 58 /* : */) {
      if (name === ':method') method = value;
      else if (name === ':path') path = value;
      else if (name === ':authority') authority = value;
      continue;
    }
    if (!validName(name)) return false;
    if (name === 'host') host = value;
  }
  if (!validMethod(method)) return false;
  if (method !== 'CONNECT' && !validPath(method, path)) return false;
  return validAuthority(authority === '' ? host : authority);
}

/** Connection-specific fields, malformed in HTTP/2 (RFC 9113 §8.2.2; `te` is allowed in requests only). */
const CONNECTION_SPECIFIC: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te']);

/**
 * Whether a response's fields from an HTTP/2 backend (`:status` already taken out) may be relayed: lower-case
 * token names, no pseudo-field left, no connection-specific field, valid values (RFC 9113 §8.2.1, §8.2.2,
 * §8.3.2). One that breaks them is malformed: relayed, an upper-case name would make the edge's own HTTP/2
 * client stream malformed, a `connection` field would speak for the client's connection.
 */
export function responseFieldsValid(fields: readonly string[]): boolean {
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (!validName(name) || CONNECTION_SPECIFIC.has(name) || !validValue(fields[i + 1])) return false;
  }
  return true;
}
