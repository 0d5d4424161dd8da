// CodecFrontend: the HTTP/2 side of a listener on Switchyard's own codec. Same duties as H2Frontend (the
// node:http2 one): takes accepted sockets, applies the listener's http2 limits, cuts rapid-reset clients,
// closes idle connections, sends GOAWAY on drain. Every request goes to deps.exchange: the L7 core's
// exchange (HTTP/1.1 upstreams, redirects, fixed and static responses) or a stream to an HTTP/2 pool.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ListenerConfig } from '../../config/index.ts';
import { systemClock, type Clock, type Logger } from '../../core/index.ts';
import type { ConnectionTimes, ExchangeDownstream, ExchangeHandle, ExchangeRequest } from '../../l7/index.ts';
import type { H2FrontendStatus } from '../frontend.ts';
import { IdleSweep, closedOrDeadline } from '../lifecycle.ts';
import { E_INTERNAL_ERROR } from './frames.ts';
import { H2Connection, type CodecLimits, type ConnectionEvents } from './connection.ts';
import type { RequestFields } from './request-fields.ts';
import type { CodecStream } from './stream.ts';

export interface CodecFrontendDeps {
  /**
   * Answers a request: the L7 exchange (HttpListener.handleExchange), or a stream to an HTTP/2 pool.
   * `localPort`: the port the client connected to (X-Forwarded-Port).
   */
  exchange(request: ExchangeRequest, downstream: ExchangeDownstream, encrypted: boolean, localPort: number): ExchangeHandle;
  logger: Logger;
  clock?: Clock;
  /** Added to every response when the response has none of its own (Strict-Transport-Security). */
  responseHeaders?: Readonly<Record<string, string>>;
}

function limitsOf(listener: ListenerConfig): CodecLimits {
  return {
    maxConcurrentStreams: listener.http2.max_concurrent_streams,
    maxHeaderListSize: listener.http2.max_header_list_size,
    maxResetsPerSecond: listener.http2.max_resets_per_second,
    // as node:http2's frontend had them: a 256 KiB stream window lets one fast upload fill the pipe, and
    // a 16 MiB connection window keeps slow streams' bodies from blocking the others
    streamWindow: 256 * 1024,
    connectionWindow: 16 * 1024 * 1024,
  };
}

export class CodecFrontend implements ConnectionEvents {
  private readonly connections = new Set<H2Connection>();
  private readonly deps: CodecFrontendDeps;
  private readonly clock: Clock;
  private listener: ListenerConfig;
  private limits: CodecLimits;
  private responseHeaders: Readonly<Record<string, string>> | undefined;
  private readonly idle: IdleSweep;
  private draining = false;
  private cutCount = 0;

  constructor(listener: ListenerConfig, deps: CodecFrontendDeps) {
    this.listener = listener;
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.idle = new IdleSweep(this.clock, () => this.listener.timeouts.idle, (now, idle) => this.sweepIdle(now, idle));
    this.limits = limitsOf(listener);
    this.responseHeaders = deps.responseHeaders;
  }

  /** New connections use the new limits; open ones keep the SETTINGS they announced. */
  updateConfig(listener: ListenerConfig, responseHeaders: Readonly<Record<string, string>> | undefined): void {
    this.listener = listener;
    this.limits = limitsOf(listener);
    this.responseHeaders = responseHeaders;
  }

  /** `times`: a TLS connection's accept and handshake end (its first stream's waterfall shows them). */
  accept(socket: Socket | TLSSocket, times?: ConnectionTimes): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    const connection = new H2Connection(socket, (socket as TLSSocket).encrypted === true, this.limits, this, this.clock, this.responseHeaders);
    if (times !== undefined) {
      connection.tAccepted = times.tAccepted;
      connection.tTls = times.tTls;
    }
    this.connections.add(connection);
    connection.start();
    this.idle.schedule();
  }

  // ---- ConnectionEvents

  request(connection: H2Connection, stream: CodecStream, fields: RequestFields): void {
    const request: ExchangeRequest = {
      method: fields.method,
      authority: fields.authority,
      path: fields.path,
      scheme: connection.encrypted ? 'https' : 'http',
      headers: fields.fields,
      peerAddress: connection.peerAddress,
      // 0 tells L7 the body has ended: only END_STREAM says so. `content-length: 0` on an open stream still
      // has its END_STREAM (and possibly stray DATA, which the stream resets) to come: unknown until then,
      // so nothing is sent upstream before the stream proves it is well-formed (RFC 9113 §8.1.1).
      contentLength: stream.remoteClosed ? 0 : fields.contentLength === 0 ? -1 : fields.contentLength,
      tAccepted: connection.tAccepted,
      tTls: connection.tTls,
      // set by the dispatch; here from the start, so that its store does not reshape the object (a property
      // added later allocated a property array per request)
      localPort: 0,
    };
    connection.tAccepted = connection.tTls = 0;
    try {
      stream.handle = this.deps.exchange(request, stream, connection.encrypted, connection.socket.localPort ?? 0);
    } catch (err) {
      // an exchange bug must end one stream, never the worker
      this.deps.logger.error({ err: err instanceof Error ? err.message : String(err) }, `h2 ${this.listener.name}: exchange failed`);
      stream.reset(E_INTERNAL_ERROR);
    }
  }

  cutForResets(connection: H2Connection): void {
    this.cutCount++;
    this.deps.logger.warn({ listener: this.listener.name, peer: connection.peerAddress }, `h2 ${this.listener.name}: client ${connection.peerAddress} reset more than ${this.listener.http2.max_resets_per_second} streams in a second, closing the connection`);
  }

  headerBudgetSpent(connection: H2Connection): void {
    this.deps.logger.warn({ listener: this.listener.name, peer: connection.peerAddress }, `h2 ${this.listener.name}: client ${connection.peerAddress} sent header blocks that decode to more than a second's budget (HPACK bomb), closing the connection`);
  }

  closed(connection: H2Connection): void {
    this.connections.delete(connection);
  }

  // ---- idle, drain, stop

  /** Connections without a stream for `timeouts.idle` get a GOAWAY and close (as nginx's idle timeout does). */
  private sweepIdle(now: number, idle: number): boolean {
    for (const connection of this.connections) {
      if (connection.isFinished || connection.streams.size > 0 || now - connection.idleSince < idle) continue;
      connection.shutdown();
    }
    return this.connections.size > 0;
  }

  /** GOAWAY to every connection (streams in flight finish); connections still open at the deadline are destroyed. */
  async drain(deadline: number): Promise<void> {
    this.draining = true;
    await closedOrDeadline(this.connections, (connection, closed) => {
      if (connection.socket.destroyed) return closed();
      connection.socket.once('close', closed);
      connection.shutdown();
    }, deadline, this.clock);
    for (const connection of this.connections) connection.destroy();
  }

  async stop(): Promise<void> {
    this.draining = true;
    for (const connection of this.connections) connection.destroy();
    this.connections.clear();
    this.idle.stop();
  }

  status(): H2FrontendStatus {
    let streams = 0;
    for (const connection of this.connections) streams += connection.streams.size;
    return { sessions: this.connections.size, streams, sessions_cut_for_resets: this.cutCount };
  }
}
