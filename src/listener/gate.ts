// The connection filters of a listener, run on every accepted TCP connection before any protocol reads
// a byte, the same for http, https, h2c and tcp listeners. In order:
//   1. max_connections: at the limit, a new connection is closed at once (open ones are never cut);
//   2. accept_proxy_protocol: a connection from a listed source must open with a PROXY v1/v2 header,
//      which names the real client (no header, a malformed one, or none within timeouts.proxy_protocol:
//      closed). A connection from any other source is plain traffic, whatever its first bytes are;
//   3. access (deny, then allow) on the client address: the one the PROXY header named when there was
//      one, else the TCP peer.
// Then the socket goes to the protocol, reporting the real client as its remoteAddress.
import type net from 'node:net';
import type { ListenerConfig } from '../config/index.ts';
import { AccessList } from './access-list.ts';
import { CidrSet } from './cidr-set.ts';
import { setClient } from './client-address.ts';
import { readProxyHeader } from './proxy-reader.ts';

/** screen()'s answers. */
export const REFUSE = 0;
export const ACCEPT = 1;
export const READ_PROXY_HEADER = 2;
export type Verdict = typeof REFUSE | typeof ACCEPT | typeof READ_PROXY_HEADER;

export interface ConnectionGateStatus {
  /** Connections open now (counted against max_connections), in this worker. */
  connections: number;
  refused_max_connections: number;
  refused_access: number;
  proxy_header_errors: number;
}

export class ConnectionGate {
  private limit = 0;
  private proxySources: CidrSet | undefined;
  private access = new AccessList(undefined);
  private proxyTimeout = 0;
  private open = 0;
  private refusedLimit = 0;
  private refusedAccess = 0;
  private proxyErrors = 0;
  /** One function for every counted socket's 'close' (no closure per connection). */
  readonly release = (): void => {
    this.open--;
  };

  constructor(config: ListenerConfig) {
    this.update(config);
  }

  /** Reload: new connections meet the new limit and lists; open ones stay counted. */
  update(config: ListenerConfig): void {
    this.limit = config.limits.max_connections;
    this.proxySources = config.accept_proxy_protocol ? new CidrSet(config.accept_proxy_protocol) : undefined;
    this.access = new AccessList(config.access);
    this.proxyTimeout = config.timeouts.proxy_protocol;
  }

  get connections(): number {
    return this.open;
  }

  status(): ConnectionGateStatus {
    return { connections: this.open, refused_max_connections: this.refusedLimit, refused_access: this.refusedAccess, proxy_header_errors: this.proxyErrors };
  }

  /**
   * The filters that need no byte of the connection, for accept paths that build their socket
   * themselves (src/l7's raw-handle accept). `peer`: the TCP peer's address. ACCEPT and
   * READ_PROXY_HEADER count the connection: the caller calls release() when it closes.
   */
  screen(peer: string): Verdict {
    if (this.open >= this.limit) {
      this.refusedLimit++;
      return REFUSE;
    }
    if (this.proxySources !== undefined && this.proxySources.contains(peer)) {
      this.open++;
      return READ_PROXY_HEADER;
    }
    if (!this.access.permits(peer)) {
      this.refusedAccess++;
      return REFUSE;
    }
    this.open++;
    return ACCEPT;
  }

  /**
   * A socket fresh from a net server: screened, counted until it closes, its PROXY header read when its
   * source is listed; `pass` gets it (possibly paused) reporting the real client. Refused: destroyed.
   */
  admit(socket: net.Socket, pass: (socket: net.Socket) => void): void {
    const verdict = this.screen(socket.remoteAddress ?? '');
    if (verdict === REFUSE) {
      socket.destroy();
      return;
    }
    socket.once('close', this.release);
    if (verdict === ACCEPT) pass(socket);
    else this.readProxyHeader(socket, pass);
  }

  /** For a counted socket screened READ_PROXY_HEADER: reads the header, then checks access on the client it names. */
  readProxyHeader(socket: net.Socket, pass: (socket: net.Socket) => void): void {
    readProxyHeader(socket, this.proxyTimeout, (header, error) => {
      if (header === undefined || error !== undefined) {
        this.proxyErrors++;
        socket.destroy();
        return;
      }
      // LOCAL / UNKNOWN (the balancer's own checks): the connection's own addresses stand
      if (header.source !== undefined) setClient(socket, header.source);
      if (!this.access.permits(socket.remoteAddress ?? '')) {
        this.refusedAccess++;
        socket.destroy();
        return;
      }
      pass(socket);
    });
  }
}
