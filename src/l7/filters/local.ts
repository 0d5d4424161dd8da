// A filter's local answer as response fields, the same on every downstream: the filter's fields, then the
// edge's Date, a text/plain content-type unless the filter gave one, and the body's length (a HEAD gets the
// length without the body). A 304 or 204 has no content: neither field is added (a 304's Content-Length
// would claim the length of the stored representation, and 0 is not it).
import type { LocalResponse, WireMemo } from './types.ts';

/** An empty memo for LocalResponse.wire. */
export const newWireMemo = (): WireMemo => ({ date: '', lines: '', bytes: null, tail: null, headLength: 0 });

/** Flat fields for `answer`; `date` is the listener's cached Date value. */
export function localResponseFields(answer: LocalResponse, date: string, bodyLength: number): string[] {
  const fields = answer.headers.slice();
  if (answer.status === 304 || answer.status === 204) {
    fields.push('date', date);
    return fields;
  }
  let typed = false;
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === 'content-type') typed = true;
  fields.push('date', date);
  if (!typed) fields.push('content-type', 'text/plain; charset=utf-8');
  fields.push('content-length', String(bodyLength));
  return fields;
}
