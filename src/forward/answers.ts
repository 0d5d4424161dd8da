// The proxy's own answers (errors, 407, the CONNECT 200), as whole byte strings: a body that names the
// reason, Content-Length framing, and Connection: close when the connection cannot carry on (a request
// body not read, or a malformed head).

const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  403: 'Forbidden',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  413: 'Content Too Large',
  417: 'Expectation Failed',
  431: 'Request Header Fields Too Large',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  504: 'Gateway Timeout',
  505: 'HTTP Version Not Supported',
};

/** A complete response. `extra`: header lines, each ending in CRLF. */
export function answer(status: number, reason: string, close: boolean, via: string, extra = ''): string {
  const text = STATUS_TEXT[status] ?? 'Error';
  const body = `${status} ${text}: ${reason}\n`;
  return (
    `HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nVia: 1.1 ${via}\r\n` +
    `Cache-Control: no-store\r\n${extra}${close ? 'Connection: close\r\n' : ''}\r\n${body}`
  );
}

export const CONNECT_ESTABLISHED = 'HTTP/1.1 200 Connection established\r\n\r\n';
export const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
