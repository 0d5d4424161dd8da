// A bounded load generator for fault-injection tests: N concurrent keep-alive HTTP/1.1 clients (one undici
// Client, one connection each) doing GETs in a loop until a request count or a time limit is reached, or
// stop() is called. Every request is recorded with its timing, status and answering origin (the
// `x-origin` response header); every failure (status >= 500, a socket error such as a reset, a timeout)
// is kept with its timestamp, and so is every connection that ended with an error.
import { setTimeout as pause } from 'node:timers/promises';
import { Client } from 'undici';

export interface LoadOptions {
  /** Base URL of the edge, e.g. http://127.0.0.1:8080 */
  origin: string;
  /** Request path (with query); a function picks one per request. */
  path: string | ((index: number) => string);
  /** Concurrent clients, each with its own keep-alive connection. */
  clients: number;
  /** Stop after this many requests in all (bounded even without stop()). */
  maxRequests?: number;
  /** Stop after this long (default 30s: every run is bounded). */
  maxDurationMs?: number;
  /** Pause of each client between its requests, to keep the rate (and CPU) moderate. Default 0. */
  pauseMs?: number;
  /** A request not answered in full within this is recorded as a timeout failure. Default 5s. */
  timeoutMs?: number;
}

export interface Sample {
  client: number;
  path: string;
  /** Date.now() when the request was sent and when it ended. */
  start: number;
  end: number;
  /** 0 when no response arrived. */
  status: number;
  /** x-origin of the response, '' when none. */
  origin: string;
  /** Set when the request failed (no response, or a body cut short): the error code (ECONNRESET, UND_ERR_SOCKET, ...). */
  error?: string;
  message?: string;
  bytes: number;
}

export interface ConnectionError {
  at: number;
  client: number;
  code: string;
  message: string;
}

export interface LoadSummary {
  requests: number;
  failures: Sample[];
  connectionErrors: ConnectionError[];
  connections: number;
  elapsedMs: number;
}

export interface LoadRun {
  readonly samples: readonly Sample[];
  /** Requests with status >= 500, no response, or a body cut short. */
  failures(): Sample[];
  /** Connections that ended with an error other than a clean close by the server. */
  readonly connectionErrors: readonly ConnectionError[];
  /** Connections opened so far. */
  connections(): number;
  /** Resolves once `predicate` holds after some request completes (rejects after timeoutMs or when the run ends). */
  until(predicate: (run: LoadRun) => boolean, timeoutMs: number, what: string): Promise<void>;
  /** Resolves after `count` more requests have completed. */
  more(count: number, timeoutMs?: number): Promise<void>;
  /** Stops the loops (current requests finish) and closes the clients. */
  stop(): Promise<LoadSummary>;
  /** Resolves when the run ends by itself or by stop(). */
  readonly done: Promise<LoadSummary>;
}

export const isFailure = (sample: Sample): boolean => sample.status === 0 || sample.status >= 500 || sample.error !== undefined;

/**
 * Closes that are not connection errors: the server's FIN on an idle keep-alive connection, and undici
 * ending a connection itself after a `connection: close` response (UND_ERR_INFO "reset").
 */
const cleanClose = (err: Error & { code?: string }): boolean => err.code === 'UND_ERR_INFO' || (err.code === 'UND_ERR_SOCKET' && /other side closed/.test(err.message));

export function startLoad(options: LoadOptions): LoadRun {
  const maxRequests = options.maxRequests ?? Number.POSITIVE_INFINITY;
  const deadline = Date.now() + (options.maxDurationMs ?? 30_000);
  const timeoutMs = options.timeoutMs ?? 5_000;
  const samples: Sample[] = [];
  const connectionErrors: ConnectionError[] = [];
  const waiters = new Set<() => void>();
  let connections = 0;
  let issued = 0;
  let stopped = false;
  const started = Date.now();
  const clients: Client[] = [];

  const notify = (): void => {
    for (const waiter of [...waiters]) waiter();
  };

  const one = async (client: Client, index: number): Promise<void> => {
    const path = typeof options.path === 'string' ? options.path : options.path(issued);
    issued++;
    const start = Date.now();
    const sample: Sample = { client: index, path, start, end: 0, status: 0, origin: '', bytes: 0 };
    const abort = AbortSignal.timeout(timeoutMs);
    try {
      const response = await client.request({ path, method: 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs, signal: abort });
      sample.status = response.statusCode;
      const origin = response.headers['x-origin'];
      sample.origin = typeof origin === 'string' ? origin : '';
      for await (const chunk of response.body) sample.bytes += (chunk as Buffer).length;
    } catch (err) {
      const error = err as Error & { code?: string; cause?: Error & { code?: string } };
      sample.error = error.cause?.code ?? error.code ?? error.name;
      sample.message = error.cause?.message ?? error.message;
    }
    sample.end = Date.now();
    samples.push(sample);
    notify();
  };

  const loop = async (index: number): Promise<void> => {
    const client = new Client(options.origin, { pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 30_000, connectTimeout: timeoutMs });
    clients.push(client);
    client.on('connect', () => connections++);
    client.on('disconnect', (_origin, _targets, err: Error & { code?: string }) => {
      if (stopped || cleanClose(err)) return;
      connectionErrors.push({ at: Date.now(), client: index, code: err.code ?? err.name, message: err.message });
    });
    while (!stopped && issued < maxRequests && Date.now() < deadline) {
      await one(client, index);
      if (options.pauseMs && !stopped) await pause(options.pauseMs);
    }
  };

  const summary = (): LoadSummary => ({
    requests: samples.length,
    failures: samples.filter(isFailure),
    connectionErrors: [...connectionErrors],
    connections,
    elapsedMs: Date.now() - started,
  });

  const loops = Promise.all(Array.from({ length: options.clients }, (_, index) => loop(index)));
  const done = loops.then(async () => {
    stopped = true;
    notify();
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    return summary();
  });

  const run: LoadRun = {
    samples,
    failures: () => samples.filter(isFailure),
    connectionErrors,
    connections: () => connections,
    until(predicate, ms, what) {
      return new Promise((resolve, reject) => {
        if (predicate(run)) return resolve();
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`load: timed out after ${ms}ms waiting for ${what} (${samples.length} requests done)`));
        }, ms);
        const check = (): void => {
          if (predicate(run)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve();
          } else if (stopped) {
            waiters.delete(check);
            clearTimeout(timer);
            reject(new Error(`load: the run ended before ${what}`));
          }
        };
        waiters.add(check);
      });
    },
    more(count, ms = 10_000) {
      const target = samples.length + count;
      return run.until(() => samples.length >= target, ms, `${count} more requests`);
    },
    async stop() {
      stopped = true;
      return done;
    },
    done,
  };
  return run;
}
