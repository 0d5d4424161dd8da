// The one Cookie parser: the value of one cookie in a Cookie header (`a=1; b=2`), for balancing by
// `cookie:NAME` and route matching, whatever codec parsed the request (HTTP/1.1 head, HTTP/2 fields).

/** The value of cookie `name` in one Cookie header value, undefined when it has none; whitespace trimmed. */
export function cookieValue(header: string, name: string): string | undefined {
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
