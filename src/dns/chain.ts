// The DNS chain (ARCHITECTURE.md): links run in order; each answers (returns bytes, or 'drop') or passes
// (returns undefined). Links stay synchronous when they can, so an authoritative answer never waits for a
// promise; the first link that returns a promise switches the rest of the run to async.
import type { Logger } from '../core/index.ts';
import { Rcode } from './wire/constants.ts';
import type { DnsQuery } from './wire/query.ts';
import { renderRcode, type ResponseLimits } from './render.ts';
import type { PoolAnswer } from './zone/prepared.ts';

export interface DnsRequest {
  readonly query: DnsQuery;
  readonly transport: 'udp' | 'tcp';
  readonly clientAddress: string;
  readonly limits: ResponseLimits;
  /** Decided by the acl link: may this client use the resolver (recursion, cache)? */
  mayRecurse: boolean;
  /** Left by the authority link for the pool-answers link. */
  poolAnswer?: PoolAnswer;
}

/** A response to send, 'drop' to send nothing, or undefined to pass the request to the next link. */
export type DnsResult = Buffer | 'drop' | undefined;

export interface DnsHandler {
  readonly name: string;
  handle(request: DnsRequest): DnsResult | Promise<DnsResult>;
}

export type ChainOutcome = Buffer | 'drop';

/**
 * Runs the links from `start`. A request no link answers is REFUSED (a name outside our zones from a client
 * that may not recurse). An exception in a link becomes SERVFAIL: nothing escapes to a socket.
 */
export function runChain(handlers: readonly DnsHandler[], request: DnsRequest, logger: Logger, start = 0): ChainOutcome | Promise<ChainOutcome> {
  for (let index = start; index < handlers.length; index++) {
    let result: DnsResult | Promise<DnsResult>;
    try {
      result = handlers[index].handle(request);
    } catch (err) {
      return failed(handlers[index], request, logger, err);
    }
    if (result === undefined) continue;
    if (result instanceof Promise) {
      return result.then(
        (value) => (value === undefined ? runChain(handlers, request, logger, index + 1) : value),
        (err: unknown) => failed(handlers[index], request, logger, err),
      );
    }
    return result;
  }
  return renderRcode(request.query, Rcode.REFUSED, request.limits);
}

function failed(handler: DnsHandler, request: DnsRequest, logger: Logger, err: unknown): Buffer {
  logger.warn({ err, link: handler.name }, `dns ${handler.name}: failed, answering SERVFAIL`);
  return renderRcode(request.query, Rcode.SERVFAIL, request.limits);
}
