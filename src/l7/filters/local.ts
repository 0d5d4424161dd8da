// A filter's local answer as response fields, the same on every downstream: the filter's fields, then the
// edge's Date, a text/plain content-type unless the filter gave one, and the body's length (a HEAD gets the
// length without the body).
import type { LocalResponse, WireMemo } from './types.ts';

/** An empty memo for LocalResponse.wire. */
export const newWireMemo = (): WireMemo => ({ date: '', lines: '', bytes: null, tail: null, headLength: 0 });

/** Flat fields for `answer`; `date` is the listener's cached Date value. */
export function localResponseFields(answer: LocalResponse, date: string, bodyLength: number): string[] {
  const fields = answer.headers.slice();
  let typed = false;
  for (let i = 0; i < fields.length; i += 2) if (fields[i] === 'content-type') typed = true;
  fields.push('date', date);
  if (!typed) fields.push('content-type', 'text/plain; charset=utf-8');
  fields.push('content-length', String(bodyLength));
  return fields;
}
