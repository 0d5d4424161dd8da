// Responses Switchyard writes itself: errors (short bodies, no internal addresses), redirects, 100.
import { reasonPhrase } from './reason.ts';

export const CONTINUE_100 = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

// `date`: the Date line (ListenerRuntime.date.line(), cached per second). `lines`: the Connection line (if
// any) and the listener's own header lines (HSTS), from ListenerRuntime.connectionLines / closeLines; each
// ends in CRLF.

/**
 * A complete error response. `lines` holds Connection: close for errors that close (every error of the
 * bad-input kind). `head` omits the body (HEAD requests).
 */
export function errorResponse(status: number, date: string, lines: string, head = false): Buffer {
  const body = `${status} ${reasonPhrase(status).toLowerCase()}\n`;
  const text =
    `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n` +
    date +
    lines +
    '\r\n' +
    (head ? '' : body);
  return Buffer.from(text, 'latin1');
}

export function redirectResponse(status: number, location: string, date: string, lines: string, head: boolean): Buffer {
  const body = head ? '' : `${status} ${reasonPhrase(status).toLowerCase()}\n`;
  const safe = location.replace(/[\r\n]/g, '');
  const text =
    `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\nlocation: ${safe}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${head ? reasonPhrase(status).length + 5 : body.length}\r\n` +
    date +
    lines +
    '\r\n' +
    body;
  return Buffer.from(text, 'utf8');
}

/** A prebuilt fixed response: head (without Date, Connection and final CRLF) + body. */
export function fixedResponse(head: string, body: Buffer, date: string, lines: string, isHead: boolean): Buffer {
  const headBytes = Buffer.from(head + date + lines + '\r\n', 'utf8');
  return isHead || body.length === 0 ? headBytes : Buffer.concat([headBytes, body]);
}

/**
 * A response from flat fields (lower-case names, values without CR/LF), the `lines` and the body (null: HEAD).
 * The head is latin1, one byte per char, as heads are parsed (a cache hit sends a stored obs-text octet as
 * the upstream sent it) and as the relayed path writes filters' edits.
 */
export function fieldsResponse(status: number, fields: readonly string[], lines: string, body: Buffer | null): Buffer {
  let text = `HTTP/1.1 ${status} ${reasonPhrase(status)}\r\n`;
  for (let i = 0; i < fields.length; i += 2) text += `${fields[i]}: ${fields[i + 1]}\r\n`;
  const head = Buffer.from(text + lines + '\r\n', 'latin1');
  return body === null || body.length === 0 ? head : Buffer.concat([head, body]);
}
