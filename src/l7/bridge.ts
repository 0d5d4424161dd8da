// Bridge for other codecs (HTTP/2): proxies one already-parsed request through this listener's router
// and HTTP/1.1 upstream path. Not implemented yet: answers 501 so the caller's contract already holds.
import { EdgeError } from '../core/index.ts';
import type { HttpListenerImpl } from './listener.ts';
import type { ExchangeRequest, ExchangeDownstream, ExchangeHandle } from './types.ts';

export function bridgeExchange(_listener: HttpListenerImpl, _request: ExchangeRequest, downstream: ExchangeDownstream): ExchangeHandle {
  downstream.fail(new EdgeError('SY_ERR_NOT_IMPLEMENTED', 'l7: exchange bridge not implemented yet', { source: 'internal', status: 501 }));
  return { bodyData() {}, bodyEnd() {}, drain() {}, abort() {} };
}
