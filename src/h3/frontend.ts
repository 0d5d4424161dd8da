// H3Frontend: HTTP/3 on an https listener's port over UDP. The addon (native/quic_h3.c) speaks QUIC and
// HTTP/3 framing; this side turns each request stream into an ExchangeRequest and hands it to the
// listener's exchange — the very function the HTTP/2 codec's streams go to (src/h2 StreamDispatch) — so
// HTTP/3 is one more downstream of the one pipeline, not another engine. Built by the https listener
// (src/h2/listener.ts) through the factory the supervisor passes it (createH3Frontend).
import { createHash, randomBytes } from 'node:crypto';
import { isIPv6 } from 'node:net';
import type { ListenerConfig } from '../config/index.ts';
import { EdgeError, messageOf, type Logger } from '../core/index.ts';
import type { ExchangeDownstream, ExchangeHandle, ExchangeRequest } from '../l7/index.ts';
import { EV_CLOSE, EV_DATA, EV_DRAIN, EV_END, EV_REQUEST, h3Addon, h3AddonProblem, type H3Addon, type H3ListenOptions, type H3Stats, type ServerRef, type StreamRef } from './addon.ts';
import { H3Downstream, H3_INTERNAL_ERROR, H3_MESSAGE_ERROR, type ResponseFieldsFn } from './stream.ts';

/** The parts of a request's header list (the HTTP/2 rules: src/h2 requestFields), or null when malformed. */
export interface ParsedRequest {
  method: string;
  authority: string;
  path: string;
  fields: string[];
  contentLength: number;
}

export interface H3FrontendDeps {
  /** The listener's exchange (src/h2 StreamDispatch.exchange): the L7 core, or the HTTP/2 upstream core. */
  exchange(request: ExchangeRequest, downstream: ExchangeDownstream, encrypted: boolean, localPort: number): ExchangeHandle;
  /** RFC 9113 §8.2–8.3 checks, shared with HTTP/2 (RFC 9114 §4.2–4.3 states the same rules). */
  parseRequest(list: readonly string[]): ParsedRequest | null;
  responseFields: ResponseFieldsFn;
  /** The listener's certificates as PEM, the default first. */
  certificates(): { cert: Buffer; key: Buffer }[];
  logger: Logger;
  /** Shared by workers: Retry and stateless reset tokens made by one verify on another. */
  secretSeed?: Buffer;
  /** Added to every response (Strict-Transport-Security). */
  responseHeaders?: Readonly<Record<string, string>>;
}

export interface H3FrontendStatus {
  port: number;
  streams: number;
  stats: H3Stats | undefined;
}

const retryModes = { never: 0, always: 1, under_load: 2 } as const;

function limitsOf(listener: ListenerConfig): Omit<H3ListenOptions, 'host' | 'port' | 'ipv6' | 'certificates' | 'secret'> {
  const h3 = listener.http3;
  return {
    maxStreams: h3.max_concurrent_streams,
    idleMs: h3.idle_timeout ?? listener.timeouts.idle,
    maxHeaderSize: listener.limits.max_header_size,
    qpackCapacity: h3.qpack_table_size,
    qpackBlocked: h3.qpack_blocked_streams,
    retry: retryModes[h3.retry],
    retryThreshold: h3.retry_above,
    maxConnections: listener.limits.max_connections,
  };
}

export class H3Frontend {
  private listener: ListenerConfig;
  private readonly deps: H3FrontendDeps;
  private readonly addon: H3Addon;
  private handle: ServerRef | null = null;
  private boundPort = 0;
  private readonly streams = new Map<number, H3Downstream>();
  private responseHeaders: Readonly<Record<string, string>> | undefined;
  private drained: (() => void) | null = null;

  constructor(listener: ListenerConfig, deps: H3FrontendDeps) {
    const addon = h3Addon();
    if (addon === null) throw new EdgeError('SY_ERR_CONFIG', `listener ${listener.name}: ${h3AddonProblem()}`, { source: 'config' });
    this.listener = listener;
    this.deps = deps;
    this.addon = addon;
    this.responseHeaders = deps.responseHeaders;
  }

  /** Binds the UDP port (the TCP listener's: `port`), with the listener's certificates. */
  start(port: number): void {
    const { host } = this.listener.listen;
    const secret = this.deps.secretSeed
      ? createHash('sha256').update('switchyard h3 tokens\0').update(this.listener.name).update('\0').update(this.deps.secretSeed).digest()
      : randomBytes(32);
    try {
      const bound = this.addon.listen(
        { host, port, ipv6: isIPv6(host), certificates: this.deps.certificates(), secret, ...limitsOf(this.listener) },
        (type, id, a, b, c, d, e) => {
          // an error here would reach the addon's callback, which makes it fatal for the worker: one stream's
          // bug must not end every connection
          try {
            this.onEvent(type, id, a, b, c, d, e);
          } catch (err) {
            this.deps.logger.error({ listener: this.listener.name, err: messageOf(err) }, `h3 ${this.listener.name}: stream event failed`);
          }
        },
      );
      this.handle = bound.handle;
      this.boundPort = bound.port;
    } catch (err) {
      throw new EdgeError('SY_ERR_LISTEN', `listener ${this.listener.name}: cannot listen for HTTP/3 on udp ${host}:${port}: ${messageOf(err)}`, { source: 'internal', cause: err });
    }
  }

  get port(): number {
    return this.boundPort;
  }

  private onEvent(type: number, id: number, a: unknown, b: unknown, c: unknown, d: unknown, e: unknown): void {
    if (type === EV_REQUEST) {
      this.onRequest(id, a as StreamRef, b as string[], c as boolean, d as boolean, e as [string, number]);
      return;
    }
    const stream = this.streams.get(id);
    if (stream === undefined) return;
    if (type === EV_DATA) stream.bodyData(a as Buffer);
    else if (type === EV_END) stream.bodyEnd();
    else if (type === EV_DRAIN) stream.drained();
    else if (type === EV_CLOSE) {
      this.streams.delete(id);
      stream.closed();
      if (this.streams.size === 0) this.drained?.();
    }
  }

  private onRequest(id: number, ref: StreamRef, head: string[], fin: boolean, tooLarge: boolean, peer: [string, number]): void {
    const parsed = tooLarge ? null : this.deps.parseRequest(head);
    const downstream = new H3Downstream(this.addon, ref, this.responseHeaders, this.deps.responseFields, fin);
    this.streams.set(id, downstream);
    if (tooLarge) {
      downstream.answer(431, 'request header fields too large\n');
      return;
    }
    if (parsed === null) {
      // malformed (RFC 9114 §4.1.2): reset, nothing goes upstream
      downstream.done = true;
      this.addon.reset(ref, H3_MESSAGE_ERROR);
      return;
    }
    const request: ExchangeRequest = {
      method: parsed.method,
      authority: parsed.authority,
      path: parsed.path,
      scheme: 'https',
      headers: parsed.fields,
      peerAddress: peer[0],
      // as HTTP/2: only the stream's FIN ends a body; content-length: 0 on an open stream is still unknown
      contentLength: fin ? 0 : parsed.contentLength === 0 ? -1 : parsed.contentLength,
      protocol: 'h3',
    };
    try {
      downstream.handle = this.deps.exchange(request, downstream, true, this.boundPort);
    } catch (err) {
      // an exchange bug must end one stream, never the worker
      this.deps.logger.error({ err: messageOf(err) }, `h3 ${this.listener.name}: exchange failed`);
      downstream.done = true;
      this.addon.reset(ref, H3_INTERNAL_ERROR);
    }
  }

  /** Reload: new connections take the new limits and certificates; open ones keep theirs. */
  updateConfig(listener: ListenerConfig, responseHeaders: Readonly<Record<string, string>> | undefined): void {
    this.listener = listener;
    this.responseHeaders = responseHeaders;
    if (this.handle !== null) this.addon.configure(this.handle, limitsOf(listener));
  }

  /** The TLS certificates changed (file reload): new connections use them. */
  certificatesChanged(): void {
    if (this.handle === null) return;
    try {
      this.addon.setCertificates(this.handle, this.deps.certificates());
    } catch (err) {
      this.deps.logger.warn({ listener: this.listener.name, err: messageOf(err) }, `h3 ${this.listener.name}: keeping the previous certificates: ${messageOf(err)}`);
    }
  }

  /** GOAWAY on every connection; streams in flight finish until the deadline, then every connection is closed. */
  async drain(deadline: number): Promise<void> {
    if (this.handle === null) return;
    this.addon.shutdown(this.handle);
    if (this.streams.size > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
        this.drained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.drained = null;
    }
  }

  async stop(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    if (handle !== null) this.addon.close(handle);
    this.streams.clear();
  }

  status(): H3FrontendStatus {
    return { port: this.boundPort, streams: this.streams.size, stats: this.handle === null ? undefined : this.addon.stats(this.handle) };
  }
}

export function createH3Frontend(listener: ListenerConfig, deps: H3FrontendDeps): H3Frontend {
  return new H3Frontend(listener, deps);
}
