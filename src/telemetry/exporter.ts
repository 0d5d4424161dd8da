// The per-process span exporter (one per traffic plane: each worker has its own). The request path only
// decides sampling and copies a finished request into a bounded ring (request-ring.ts); a timer, or a
// full batch, takes up to `batch.size` requests off it, encodes them (otlp-json.ts) and POSTs them to
// the collector, one export in flight at a time, each with a timeout. A collector that is slow or down
// costs spans (counted in `dropped`), never request latency or unbounded memory.
import type { Agent, ClientRequest } from 'node:http';
import type * as Https from 'node:https';
import os from 'node:os';
import type { OtlpConfig } from '../config/index.ts';
import { messageOf, nodeHttp, type Logger } from '../core/index.ts';
import type { AccessRecord, AccessRecordSink } from '../l7/index.ts';
import { encodeExport } from './otlp-json.ts';
import { RequestRing, type QueuedRequest } from './request-ring.ts';
import { sampledTrace, sampleThreshold } from './sampler.ts';


/** node:https (with node:tls) is loaded only for an https endpoint. */
function clientOf(url: URL): typeof nodeHttp | typeof Https {
  return url.protocol === 'https:' ? process.getBuiltinModule('node:https') : nodeHttp;
}

export interface TelemetryStatus {
  endpoint: string;
  sample: number;
  /** Requests waiting for export. */
  queued: number;
  /** Spans the collector accepted. */
  exported: number;
  /** Requests whose spans were lost: overwritten in a full queue, or in an export that failed or timed out. */
  dropped: number;
  /** Exports that failed (connection error, timeout, non-2xx answer). */
  failures: number;
  /** The last failure's reason ('' when none). */
  lastError: string;
}

export interface SpanExporterDeps {
  logger: Logger;
  /** Wall clock in epoch ms (span times); monotonic times come with each record. */
  now?: () => number;
}

export class SpanExporter implements AccessRecordSink {
  /** Read by listeners before each push: false while telemetry is not configured. */
  active = false;
  private readonly deps: SpanExporterDeps;
  private config: OtlpConfig | undefined;
  private url: URL | undefined;
  private headers: Record<string, string> = {};
  private ring: RequestRing | undefined;
  private threshold = 0;
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;
  private inflight: ClientRequest | undefined;
  private agent: Agent | undefined;
  private exported = 0;
  private failedRequests = 0;
  private failures = 0;
  private lastError = '';
  private readonly flushNow = (): void => this.flush();
  private readonly resource = { serviceName: 'switchyard', instanceId: `${os.hostname()}:${process.pid}`, pid: process.pid };

  constructor(deps: SpanExporterDeps) {
    this.deps = deps;
  }

  /**
   * First start and every reload: `undefined` turns export off (queued requests are discarded). A kept
   * queue size keeps the queued requests; a new endpoint takes them along.
   */
  configure(config: OtlpConfig | undefined): void {
    const previous = this.config;
    this.config = config;
    if (config === undefined) {
      this.active = false;
      this.stopTimer();
      this.ring = undefined;
      this.agent?.destroy();
      this.agent = undefined;
      return;
    }
    this.url = new URL(config.endpoint);
    this.headers = { ...config.headers, 'content-type': 'application/json' };
    this.threshold = sampleThreshold(config.sample);
    if (this.ring === undefined || this.ring.capacity !== config.queue) this.ring = new RequestRing(config.queue);
    if (previous?.endpoint !== config.endpoint || this.agent === undefined) {
      this.agent?.destroy();
      this.agent = new (clientOf(this.url).Agent)({ keepAlive: true, maxSockets: 1 });
    }
    if (previous?.batch.interval !== config.batch.interval) this.stopTimer();
    this.timer ??= setInterval(this.flushNow, config.batch.interval).unref();
    this.active = true;
  }

  /** Request path (AccessRecordSink): a sampling decision and a copy into the ring, nothing else. */
  push(rec: AccessRecord, now: number): void {
    const ring = this.ring;
    if (ring === undefined || rec.traceId === '' || rec.spanId === '') return;
    if (!sampledTrace(rec.traceId, rec.parentSpanId !== '', rec.traceFlags, this.threshold)) return;
    ring.push(rec, now, (this.deps.now ?? Date.now)() - now);
    if (ring.count >= this.config!.batch.size && !this.scheduled && this.inflight === undefined) {
      this.scheduled = true;
      setImmediate(this.flushNow);
    }
  }

  status(): TelemetryStatus | undefined {
    const config = this.config;
    if (config === undefined) return undefined;
    return { endpoint: config.endpoint, sample: config.sample, queued: this.ring?.count ?? 0, exported: this.exported, dropped: (this.ring?.dropped ?? 0) + this.failedRequests, failures: this.failures, lastError: this.lastError };
  }

  /** Sends the oldest batch unless one is in flight; the next tick or a full batch sends the rest. */
  flush(): void {
    this.scheduled = false;
    const ring = this.ring;
    const config = this.config;
    if (ring === undefined || config === undefined || this.inflight !== undefined || ring.count === 0) return;
    const batch: QueuedRequest[] = [];
    ring.take(config.batch.size, (request) => batch.push(request));
    const { body, spans } = encodeExport(batch, this.resource);
    this.post(body, spans, batch.length, config);
  }

  private post(body: string, spans: number, requests: number, config: OtlpConfig): void {
    const url = this.url!;
    const client = clientOf(url);
    let settled = false;
    const done = (error: string): void => {
      if (settled) return;
      settled = true;
      this.inflight = undefined;
      if (error === '') {
        this.exported += spans;
        if (this.lastError !== '') this.deps.logger.info({ endpoint: config.endpoint }, 'telemetry: exports succeed again');
        this.lastError = '';
      } else {
        this.failedRequests += requests;
        this.failures++;
        // one line when exports start failing, not one per batch
        if (this.lastError === '') this.deps.logger.warn({ endpoint: config.endpoint, error }, 'telemetry: export failed, spans dropped');
        this.lastError = error;
      }
      if (this.ring !== undefined && this.config !== undefined && this.ring.count >= this.config.batch.size && !this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flushNow);
      }
    };
    const req = client.request(url, { method: 'POST', headers: { ...this.headers, 'content-length': Buffer.byteLength(body) }, agent: this.agent, timeout: config.timeout }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 300 ? '' : `collector answered ${res.statusCode}`));
      res.on('error', (err) => done(messageOf(err)));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${config.timeout} ms`)));
    req.on('error', (err) => done(messageOf(err)));
    this.inflight = req;
    req.end(body);
  }

  private stopTimer(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stops exporting (what is queued is dropped); safe to call at any time, also more than once. */
  stop(): void {
    this.configure(undefined);
    this.inflight?.destroy();
    this.inflight = undefined;
  }
}
