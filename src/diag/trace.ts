// switchyard trace URL: one request with every phase of its life timed (DNS, TCP connect, TLS handshake,
// request sent, wait for the first byte, download), the response, and the server's own phases from
// Server-Timing (the edge's with --admin-token, the application's) merged under the wait.
import type net from 'node:net';
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { DiagError, type DiagLayer } from './errors.ts';
import { joinHostPort } from './format.ts';
import { formatTraceParent, isTraceHeader, newTraceParent, parseServerTiming, parseTraceParent, type ServerTimingEntry } from './server-timing.ts';
import { resolveForTrace, type ResolveOutcome } from './trace-resolve.ts';
import { connect, sendRequest } from './trace-http.ts';
import { handshake, type TlsInfo } from './trace-tls.ts';
import { warmUp } from './trace-warmup.ts';

export interface TraceOptions {
  url: string;
  method?: string;
  /** Extra request headers, in order (-H). */
  headers?: [string, string][];
  dns?: { host: string; port: number };
  /** curl-style --resolve host:port:address entries. */
  resolve?: { host: string; port: number; address: string }[];
  insecure?: boolean;
  caFile?: string;
  /** Sent as x-switchyard-trace: asks a Switchyard edge to report its phases in Server-Timing. */
  adminToken?: string;
  timeoutMs?: number;
  /** Run the client's code paths once on loopback before timing (default true; see trace-warmup.ts). */
  warmUp?: boolean;
}

export type PhaseName = 'dns' | 'connect' | 'tls' | 'request' | 'wait' | 'download';

export interface Phase {
  name: PhaseName;
  label: string;
  startMs: number;
  durationMs: number;
}

export interface TraceResult {
  url: string;
  method: string;
  traceparent: string;
  traceId: string;
  dns: ResolveOutcome;
  connect: { address: string; port: number; local: string };
  tls?: TlsInfo;
  request: { target: string; headers: [string, string][] };
  response: { httpVersion: string; status: number; statusText: string; headers: [string, string][]; bodyBytes: number };
  serverTiming: ServerTimingEntry[];
  /** traceparent/traceresponse/… headers of the response, and whether they carry our trace id. */
  traceHeaders: [string, string][];
  traceIdEchoed: boolean;
  phases: Phase[];
  totalMs: number;
}

const labels: Record<PhaseName, string> = {
  dns: 'dns lookup',
  connect: 'tcp connect',
  tls: 'tls handshake',
  request: 'request sent',
  wait: 'waiting (ttfb)',
  download: 'download',
};

/** Races one phase against the trace's deadline; the loser's late rejection is swallowed. */
function withinDeadline<T>(work: Promise<T>, deadline: number, timeoutMs: number, layer: DiagLayer, what: string): Promise<T> {
  work.catch(() => undefined);
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DiagError(layer, `timed out after ${timeoutMs} ms ${what}`)), Math.max(0, deadline - performance.now()));
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}

function parseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new DiagError('HTTP', `not a URL: ${JSON.stringify(text)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new DiagError('HTTP', `unsupported scheme ${url.protocol} (http: or https:)`);
  return url;
}

const pairs = (raw: string[]): [string, string][] => {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i].toLowerCase(), raw[i + 1]]);
  return out;
};

export async function trace(options: TraceOptions): Promise<TraceResult> {
  const url = parseUrl(options.url);
  const method = (options.method ?? 'GET').toUpperCase();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const https = url.protocol === 'https:';
  const port = Number(url.port) || (https ? 443 : 80);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const ca = options.caFile ? await readFile(options.caFile).catch((err) => {
    throw new DiagError('TLS', `cannot read --cacert ${options.caFile} (${err.code ?? err.message})`);
  }) : undefined;

  const extra = options.headers ?? [];
  const userTraceParent = extra.find(([name]) => name.toLowerCase() === 'traceparent');
  const traceParent = (userTraceParent && parseTraceParent(userTraceParent[1])) || newTraceParent();
  const headers: [string, string][] = [['host', url.host], ['user-agent', 'switchyard-trace/0.1'], ['accept', '*/*'], ['traceparent', formatTraceParent(traceParent)]];
  if (options.adminToken) headers.push(['x-switchyard-trace', options.adminToken]);
  for (const [name, value] of extra) {
    const lower = name.toLowerCase();
    const at = headers.findIndex(([existing]) => existing === lower);
    if (at >= 0) headers[at] = [lower, value];
    else headers.push([lower, value]);
  }

  let secureContext: tls.SecureContext | undefined;
  try {
    if (https) secureContext = tls.createSecureContext(ca ? { ca } : {});
  } catch (err) {
    throw new DiagError('TLS', `cannot use --cacert ${options.caFile}: ${(err as Error).message}`);
  }
  if (options.warmUp !== false) await warmUp();
  const sockets: net.Socket[] = [];
  const t0 = performance.now();
  const deadline = t0 + timeoutMs;
  const at = (time: number): number => time - t0;
  try {
    const override = options.resolve?.find((entry) => entry.host.toLowerCase() === host.toLowerCase() && entry.port === port)?.address;
    const dns = await withinDeadline(resolveForTrace(host, { dns: options.dns, override, timeoutMs: Math.min(timeoutMs, 5000) }), deadline, timeoutMs, 'DNS', `resolving ${host}`);
    const dnsEnd = performance.now();
    const tcp = await withinDeadline(connect(dns.address, port, sockets), deadline, timeoutMs, 'TCP', `connecting to ${joinHostPort(dns.address, port)}`);
    const connectEnd = performance.now();
    let stream: net.Socket = tcp;
    let tlsInfo: TlsInfo | undefined;
    let tlsEnd = connectEnd;
    if (https) {
      const done = await withinDeadline(handshake({ socket: tcp, host, insecure: Boolean(options.insecure), secureContext: secureContext!, alpn: ['http/1.1'] }, (socket: tls.TLSSocket) => sockets.push(socket)),
        deadline, timeoutMs, 'TLS', `in the TLS handshake with ${host}`);
      stream = done.socket;
      tlsInfo = done.info;
      tlsEnd = performance.now();
    }
    const target = `${url.pathname}${url.search}`;
    const exchange = await withinDeadline(sendRequest(stream, method, target, headers), deadline, timeoutMs, 'HTTP', `waiting for the response to ${method} ${target}`);
    const response = exchange.response;
    const responseHeaders = pairs(response.rawHeaders);
    const serverTiming = parseServerTiming(responseHeaders.filter(([name]) => name === 'server-timing').map(([, value]) => value));
    const traceHeaders = responseHeaders.filter(([name]) => isTraceHeader(name));
    const sentAt = exchange.sentAt || tlsEnd;
    const phases: Phase[] = [];
    const phase = (name: PhaseName, from: number, to: number): void => {
      phases.push({ name, label: labels[name], startMs: at(from), durationMs: Math.max(0, to - from) });
    };
    phase('dns', t0, dnsEnd);
    phase('connect', dnsEnd, connectEnd);
    if (https) phase('tls', connectEnd, tlsEnd);
    phase('request', tlsEnd, sentAt);
    phase('wait', sentAt, Math.max(sentAt, exchange.firstByteAt));
    phase('download', Math.max(sentAt, exchange.firstByteAt), exchange.endAt);
    return {
      url: url.href,
      method,
      traceparent: formatTraceParent(traceParent),
      traceId: traceParent.traceId,
      dns,
      connect: { address: dns.address, port, local: joinHostPort(tcp.localAddress ?? '?', tcp.localPort ?? 0) },
      tls: tlsInfo,
      request: { target, headers: headers.map(([name, value]): [string, string] => [name, name === 'x-switchyard-trace' ? '(admin token)' : value]) },
      response: { httpVersion: response.httpVersion, status: response.statusCode ?? 0, statusText: response.statusMessage ?? '', headers: responseHeaders, bodyBytes: exchange.bodyBytes },
      serverTiming,
      traceHeaders,
      traceIdEchoed: traceHeaders.some(([, value]) => value.toLowerCase().includes(traceParent.traceId)),
      phases,
      totalMs: at(exchange.endAt),
    };
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}

/** A response the server answered with an error status counts as an HTTP-layer failure (exit 1). */
export const traceFailure = (result: TraceResult): string | undefined =>
  result.response.status >= 400 ? new DiagError('HTTP', `${result.method} ${result.url} answered ${result.response.status} ${result.response.statusText}`.trimEnd()).message : undefined;
