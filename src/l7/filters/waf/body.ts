// Which body kind the built-in sets understand, from the request's Content-Type: form-urlencoded (matched
// decoded once, as a query), JSON (application/json and any +json type, matched as raw text), or other
// (only own `body` rules look at it: multipart, binary, text).

export const BODY_OTHER = 0;
export const BODY_FORM = 1;
export const BODY_JSON = 2;

/** The media type of a Content-Type value (parameters dropped), lower-cased. */
function mediaType(value: string): string {
  const semicolon = value.indexOf(';');
  return (semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase();
}

export function bodyKind(contentType: string | undefined): number {
  if (contentType === undefined) return BODY_OTHER;
  const type = mediaType(contentType);
  if (type === 'application/x-www-form-urlencoded') return BODY_FORM;
  if (type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'))) return BODY_JSON;
  return BODY_OTHER;
}
