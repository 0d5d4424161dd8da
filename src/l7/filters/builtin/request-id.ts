// `request_id`: the request's id goes upstream in forwarded.request_id. The id itself is settled in the
// "request headers" phase (the access log needs it for every request, proxied or not) by one rule on
// every path: the client's own id when usable (usableRequestId), else the listener's next id (one
// generator per listener: a prefix and a counter).
import type { EdgeRequest, FilterContext, HeaderWriter, HttpFilter } from '../types.ts';

/** Longest client-sent id the edge keeps (a longer one is replaced, so logs and upstreams agree). */
export const MAX_REQUEST_ID = 200;

/** The client's request id when it is usable (1–200 bytes), else undefined: the path takes the listener's next id. */
export function usableRequestId(sent: string | undefined): string | undefined {
  return sent !== undefined && sent.length > 0 && sent.length <= MAX_REQUEST_ID ? sent : undefined;
}

export interface RequestIdSettings {
  /** The field's name, lower-case; '' when request ids are off. */
  name: string;
}

/** Builds the filter, or null when request ids are off. */
export function createRequestId(settings: RequestIdSettings): HttpFilter | null {
  const name = settings.name;
  if (name === '') return null;
  return {
    name: 'request_id',
    onUpstreamRequest(ctx: FilterContext, head: HeaderWriter): void {
      const id = ctx.requestId;
      const sent = (ctx.edge as EdgeRequest).sentRequestId;
      // the client's own usable id is already in the head; an unusable one is replaced by the logged id
      if (sent === undefined) head.add(name, id);
      else if (sent !== id) head.set(name, id);
    },
  };
}
