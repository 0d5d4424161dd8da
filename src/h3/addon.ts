// The HTTP/3 addon (native/quic_h3.c over Debian's libngtcp2, libngtcp2-crypto-gnutls and libnghttp3),
// found and loaded once per process. Built at install when the system libraries are there
// (native/build.cjs); when it is missing, a listener with `http3: true` is refused by `switchyard check`
// and `start` with the packages to install (h3AddonProblem), never half-started.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Event types of onEvent (native/quic_h3.c). */
export const EV_REQUEST = 1;
export const EV_DATA = 2;
export const EV_END = 3;
export const EV_CLOSE = 4;
export const EV_DRAIN = 5;

/** An opaque reference to one request stream (cleared in C when the stream goes: calls on it are no-ops). */
export type StreamRef = object & { readonly __h3Stream: unique symbol };
/** An opaque reference to one UDP listener. */
export type ServerRef = object & { readonly __h3Server: unique symbol };

export interface H3ListenOptions {
  host: string;
  port: number;
  ipv6: boolean;
  /** PEM pairs; the first answers clients whose SNI matches none (GnuTLS picks by SNI among them). */
  certificates: { cert: Buffer; key: Buffer }[];
  /** 32 bytes shared by the workers: Retry tokens and stateless reset tokens verify on any of them. */
  secret: Buffer;
  maxStreams: number;
  idleMs: number;
  maxHeaderSize: number;
  qpackCapacity: number;
  qpackBlocked: number;
  /** 0 never, 1 always, 2 when more than retryThreshold handshakes are in progress. */
  retry: 0 | 1 | 2;
  retryThreshold: number;
  /** 0: no limit. */
  maxConnections: number;
}

export interface H3Stats {
  connections: number;
  handshaking: number;
  streams: number;
  accepted: number;
  datagrams: number;
  dropped: number;
  retries_sent: number;
  stateless_resets_sent: number;
  refused: number;
}

/**
 * onEvent(EV_REQUEST, id, stream, head, fin, tooLarge, [address, port]) — head: [name, value, …] as received;
 * onEvent(EV_DATA, id, chunk); onEvent(EV_END | EV_CLOSE | EV_DRAIN, id).
 */
export type H3EventHandler = (type: number, id: number, a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown) => void;

export interface H3Addon {
  listen(options: H3ListenOptions, onEvent: H3EventHandler): { handle: ServerRef; port: number };
  respond(stream: StreamRef, status: number, headers: readonly string[]): void;
  /** false: the stream holds more than its high-water mark unacknowledged; EV_DRAIN follows. */
  write(stream: StreamRef, chunk: Buffer): boolean;
  end(stream: StreamRef, trailers: readonly string[] | null): void;
  reset(stream: StreamRef, code: number): void;
  pause(stream: StreamRef): void;
  resume(stream: StreamRef): void;
  /** New limits for new connections (open ones keep what they announced). */
  configure(handle: ServerRef, options: Omit<H3ListenOptions, "host" | "port" | "ipv6" | "certificates" | "secret">): void;
  setCertificates(handle: ServerRef, certificates: { cert: Buffer; key: Buffer }[]): void;
  shutdown(handle: ServerRef): void;
  close(handle: ServerRef): void;
  stats(handle: ServerRef): H3Stats;
}

const ADDON = path.join('src', 'h3', 'native', 'build', 'Release', 'switchyard_h3.node');
/** What a Debian (bookworm) host installs for the addon to build: `npm rebuild` afterwards. */
export const H3_PACKAGES = 'libngtcp2-dev libngtcp2-crypto-gnutls-dev libnghttp3-dev libgnutls28-dev';

/** The package root: the nearest directory above this module with a package.json (sources, dist/ and the worker bundle alike). */
function packageRoot(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

let loaded: { addon: H3Addon | null; problem: string } | undefined;

function load(): { addon: H3Addon | null; problem: string } {
  if (loaded) return loaded;
  const root = packageRoot();
  // SWITCHYARD_H3_ADDON: an addon built elsewhere (a distribution package); a path that does not exist
  // behaves as a host without the addon
  const file = process.env.SWITCHYARD_H3_ADDON || (root === undefined ? undefined : path.join(root, ADDON));
  if (process.platform !== 'linux') {
    loaded = { addon: null, problem: 'HTTP/3 needs the Linux-only HTTP/3 addon' };
  } else if (file === undefined || !existsSync(file)) {
    loaded = { addon: null, problem: `HTTP/3 needs the HTTP/3 addon, which is not built: apt-get install ${H3_PACKAGES}, then npm rebuild switchyard (or node src/h3/native/build.cjs in a checkout)` };
  } else {
    try {
      loaded = { addon: createRequire(import.meta.url)(file) as H3Addon, problem: '' };
    } catch (err) {
      loaded = { addon: null, problem: `HTTP/3 addon ${file} does not load (${err instanceof Error ? err.message : String(err)}): apt-get install ${H3_PACKAGES}, then npm rebuild switchyard` };
    }
  }
  return loaded;
}

/** The addon, or null (then h3AddonProblem() says why). Loaded synchronously at config check and listener start only. */
export function h3Addon(): H3Addon | null {
  return load().addon;
}

/** Why `http3: true` cannot be served here, or '' when it can. */
export function h3AddonProblem(): string {
  return load().problem;
}
