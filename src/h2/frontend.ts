// H2Frontend: the HTTP/2 codec side of a listener. Sockets arrive already accepted (TLS with ALPN h2, or
// plain TCP for h2c prior knowledge); each becomes a node:http2 session whose streams are handed one by
// one to a dispatcher, so every stream is routed and balanced on its own. The frontend owns what is per
// session: limits (SETTINGS), the rapid-reset guard, idle timeout, and GOAWAY on drain.
import http2, { constants, type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ListenerConfig } from '../config/index.ts';
import { messageOf, systemClock, type Clock, type Logger } from '../core/index.ts';
import type { ConnectionTimes } from '../l7/index.ts';
import { rawRequestValid } from './field-rules.ts';
import { IdleSweep, closedOrDeadline } from './lifecycle.ts';
import { ResetCounter } from './reset-guard.ts';
import { http2ServerOptions } from './server-options.ts';

export interface StreamContext {
  /** TCP peer of the session ("::ffff:" stripped). */
  peerAddress: string;
  peerPort: number;
  /** TLS (https) or cleartext (h2c): the scheme the client used. */
  encrypted: boolean;
  /** Resets a downstream stream on our side; such resets do not count against the client's reset budget. */
  reset(stream: ServerHttp2Stream, code: number): void;
  /** A TLS session's accept and handshake end, handed to its first stream (the waterfall), then 0. */
  tAccepted: number;
  tTls: number;
}

/** Told when its stream closes, by the frontend's one 'close' listener (no second listener per stream). */
export interface StreamCloseListener {
  streamClosed(): void;
}

/**
 * Called once per request stream; owns the stream from then on (must answer or reset it). May return a
 * listener for the stream's close.
 */
export type StreamDispatcher = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[], context: StreamContext) => StreamCloseListener | void;

export interface H2FrontendDeps {
  dispatch: StreamDispatcher;
  logger: Logger;
  clock?: Clock;
}

export interface H2FrontendStatus {
  sessions: number;
  streams: number;
  sessions_cut_for_resets: number;
}

const connectionWindow = 16 * 1024 * 1024;

/** What the idle sweep needs of a session: streams open now, and since when it has had none. */
class SessionActivity {
  streams = 0;
  idleSince: number;

  constructor(now: number) {
    this.idleSince = now;
  }
}

/** How long a session cut for resets stays open (reading and discarding) after its GOAWAY. */
const lingerMs = 500;

/** Stream errors are reported through 'close' (rstCode); one shared listener instead of a closure per stream. */
function ignoreStreamError(): void {
  // nothing: the stream's close (with its rstCode) is where errors are handled
}

/** Header list size as SETTINGS_MAX_HEADER_LIST_SIZE counts it: name + value + 32 per field (RFC 9113 §6.5.2). */
function headerListSize(raw: readonly string[]): number {
  let size = 0;
  for (let i = 0; i < raw.length; i++) size += raw[i].length;
  return size + 16 * raw.length;
}

export class H2Frontend {
  private readonly server: Http2Server;
  /**
   * Open sessions. Idle ones are found by a sweep instead of node:http2's session.setTimeout, whose timer
   * is refreshed on every write and read of every stream (~3 % of an HTTP/2 request's CPU in paired runs).
   */
  private readonly sessions = new Map<ServerHttp2Session, SessionActivity>();
  private readonly idle: IdleSweep;
  private readonly localResets = new WeakSet<ServerHttp2Stream>();
  private readonly deps: H2FrontendDeps;
  private readonly clock: Clock;
  private listener: ListenerConfig;
  private draining = false;
  /** The times of the socket being accepted, while node:http2 makes its session (accept → onSession). */
  private acceptTimes: ConnectionTimes | undefined;
  private streamCount = 0;
  private cutForResets = 0;

  constructor(listener: ListenerConfig, deps: H2FrontendDeps) {
    this.listener = listener;
    this.deps = deps;
    this.clock = deps.clock ?? systemClock;
    this.idle = new IdleSweep(this.clock, () => this.listener.timeouts.idle, (now, idle) => this.sweepIdle(now, idle));
    // never listens: sockets are given to it by accept(); it only holds the options and the session factory
    this.server = http2.createServer(http2ServerOptions(listener));
    this.server.on('session', (session) => this.onSession(session));
  }

  /** New sessions use the new limits; open ones keep the SETTINGS they announced. */
  updateConfig(listener: ListenerConfig): void {
    this.listener = listener;
    this.server.updateSettings(http2ServerOptions(listener).settings!);
  }

  /** Takes an accepted socket: TLS after ALPN chose h2, or TCP on an h2c listener (prior knowledge). */
  accept(socket: Socket | TLSSocket, times?: ConnectionTimes): void {
    if (this.draining) {
      socket.destroy();
      return;
    }
    // listeners open sockets half-open for HTTP/1.1; an HTTP/2 session has no use for a half-closed
    // connection, so a client's FIN closes our side too (as node:http2's own servers do)
    if (socket.allowHalfOpen) socket.once('end', () => socket.end());
    // node:http2 makes the session within this emit: onSession takes the times from here
    this.acceptTimes = times;
    try {
      this.server.emit('connection', socket);
    } finally {
      this.acceptTimes = undefined;
    }
  }

  private onSession(session: ServerHttp2Session): void {
    const activity = new SessionActivity(this.clock.monotonic());
    this.sessions.set(session, activity);
    this.idle.schedule();
    const socket = session.socket;
    const peer = socket.remoteAddress ?? '';
    const context: StreamContext = {
      peerAddress: peer.startsWith('::ffff:') && peer.includes('.') ? peer.slice(7) : peer,
      peerPort: socket.remotePort ?? 0,
      encrypted: (socket as TLSSocket).encrypted === true,
      reset: (stream, code) => {
        this.localResets.add(stream);
        if (!stream.destroyed) stream.close(code);
      },
      tAccepted: this.acceptTimes?.tAccepted ?? 0,
      tTls: this.acceptTimes?.tTls ?? 0,
    };
    const resets = new ResetCounter(this.listener.http2.max_resets_per_second, this.clock);
    let cut = false;
    let lastStreamId = 0;
    const onClientReset = (stream: ServerHttp2Stream) => {
      if (cut || this.localResets.has(stream) || !resets.hit() || session.destroyed) return;
      cut = true;
      this.cutForResets++;
      this.deps.logger.warn({ listener: this.listener.name, peer: context.peerAddress }, `h2 ${this.listener.name}: client ${context.peerAddress} reset more than ${this.listener.http2.max_resets_per_second} streams in a second, closing the connection`);
      // GOAWAY first, close a moment later (a lingering close, as nginx does): closing at once, with the
      // flood still arriving unread, makes the kernel send a TCP reset that can discard the GOAWAY before
      // the client reads it. New streams above the GOAWAY's last stream id are ignored meanwhile.
      session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM, lastStreamId);
      const linger = this.clock.setTimeout(() => session.destroy(), lingerMs);
      linger.unref?.();
      session.once('close', () => this.clock.clearTimeout(linger));
    };

    // as upstream (sessions.ts): request bodies of slow streams must not block the connection window
    session.once('connect', () => session.setLocalWindowSize(connectionWindow));
    session.on('error', (err) => this.deps.logger.debug({ err: messageOf(err) }, `h2 ${this.listener.name}: session error`));
    session.on('close', () => this.sessions.delete(session));
    session.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      this.streamCount++;
      activity.streams++;
      let owner: StreamCloseListener | void = undefined;
      stream.on('error', ignoreStreamError);
      // a stream that closes with an error code we did not send was reset by the client (RST_STREAM),
      // whether or not its response had been written yet
      stream.on('close', () => {
        this.streamCount--;
        if (--activity.streams === 0) activity.idleSince = this.clock.monotonic();
        if (stream.rstCode !== constants.NGHTTP2_NO_ERROR) onClientReset(stream);
        owner?.streamClosed();
      });
      if (stream.destroyed || stream.closed) return;
      if (cut) {
        // after the GOAWAY, while the connection lingers: nothing more is worked on
        context.reset(stream, constants.NGHTTP2_REFUSED_STREAM);
        return;
      }
      if ((stream.id ?? 0) > lastStreamId) lastStreamId = stream.id ?? 0;
      // a request that could say something else once downgraded to HTTP/1.1 (field-rules.ts) is malformed
      if (!rawRequestValid(rawHeaders)) {
        context.reset(stream, constants.NGHTTP2_PROTOCOL_ERROR);
        return;
      }
      // node:http2 announces SETTINGS_MAX_HEADER_LIST_SIZE but does not enforce it on what it receives
      if (headerListSize(rawHeaders) > this.listener.http2.max_header_list_size) {
        stream.respond({ ':status': 431, 'content-type': 'text/plain; charset=utf-8' });
        stream.end('request header fields too large\n');
        return;
      }
      try {
        owner = this.deps.dispatch(stream, headers, rawHeaders, context);
      } catch (err) {
        // a dispatcher bug must end one stream, never the worker
        this.deps.logger.error({ err: messageOf(err) }, `h2 ${this.listener.name}: dispatch failed`);
        context.reset(stream, constants.NGHTTP2_INTERNAL_ERROR);
      }
    });
    if (this.draining) session.close();
  }

  /** Sessions without a stream for `timeouts.idle` get a GOAWAY and close (as nginx's idle timeout does). */
  private sweepIdle(now: number, idle: number): boolean {
    for (const [session, activity] of this.sessions) {
      if (session.closed || activity.streams > 0 || now - activity.idleSince < idle) continue;
      session.close();
    }
    return this.sessions.size > 0;
  }

  /** GOAWAY to every session (streams in flight finish); sessions still open at the deadline are destroyed. */
  async drain(deadline: number): Promise<void> {
    this.draining = true;
    await closedOrDeadline(this.sessions.keys(), (session, closed) => {
      if (session.destroyed) return closed();
      session.once('close', closed);
      session.close();
    }, deadline, this.clock);
    for (const session of this.sessions.keys()) session.destroy();
  }

  async stop(): Promise<void> {
    this.draining = true;
    for (const session of this.sessions.keys()) session.destroy();
    this.sessions.clear();
    this.idle.stop();
  }

  status(): H2FrontendStatus {
    return { sessions: this.sessions.size, streams: this.streamCount, sessions_cut_for_resets: this.cutForResets };
  }
}
