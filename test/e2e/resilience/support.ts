// Shared by the fault-injection tests: a cleanup stack, origin processes, the edge, and its admin API.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runSwitchyard, type RunningSwitchyard } from '../../support/run-switchyard.ts';
import { cleanupStack } from '../../support/cleanup.ts';

export { cleanupStack };
import { startOriginProcess, type OriginProcess, type OriginProcessOptions } from '../../support/origin-process.ts';

export interface BackendStatus {
  id: string;
  state: string;
  health_reason?: string;
  inflight?: number;
  [key: string]: unknown;
}

export interface PoolStatus {
  name: string;
  backends: BackendStatus[];
  [key: string]: unknown;
}

export async function origins(defer: ReturnType<typeof cleanupStack>, names: string[], options: Partial<OriginProcessOptions> = {}): Promise<OriginProcess[]> {
  const started = await Promise.all(names.map((name) => startOriginProcess({ ...options, name })));
  for (const origin of started) defer(() => origin.close());
  return started;
}

export async function edge(defer: ReturnType<typeof cleanupStack>, yaml: string, args: string[] = []): Promise<Edge> {
  const running = await runSwitchyard(yaml, { args });
  defer(() => running.stop());
  const token = (await readFile(path.join(running.dir, 'data', 'admin.token'), 'utf8')).trim();
  return new Edge(running, token);
}

/** The running edge plus its admin API. */
export class Edge {
  readonly running: RunningSwitchyard;
  readonly base: string;
  private readonly token: string;

  constructor(running: RunningSwitchyard, token: string) {
    this.running = running;
    this.token = token;
    const { port } = running.ready.listeners.web;
    this.base = `http://127.0.0.1:${port}`;
  }

  private admin(pathname: string, method = 'GET'): Promise<Response> {
    const { port } = this.running.ready.admin!;
    return fetch(`http://127.0.0.1:${port}${pathname}`, { method, headers: { authorization: `Bearer ${this.token}` }, signal: AbortSignal.timeout(5_000) });
  }

  async pools(): Promise<PoolStatus[]> {
    const response = await this.admin('/api/pools');
    if (response.status !== 200) throw new Error(`admin /api/pools answered ${response.status}`);
    return (await response.json()) as PoolStatus[];
  }

  async backend(pool: string, id: string): Promise<BackendStatus> {
    const found = (await this.pools()).find((entry) => entry.name === pool)?.backends.find((backend) => backend.id === id);
    if (!found) throw new Error(`admin: no backend ${id} in pool ${pool}`);
    return found;
  }

  async drain(pool: string, id: string): Promise<void> {
    const response = await this.admin(`/api/pools/${pool}/backends/${id}/drain`, 'POST');
    if (response.status !== 200) throw new Error(`admin drain answered ${response.status}: ${await response.text()}`);
  }

  /** The first `backend down|up` log line for a backend logged at or after `since` (ms); resolves with its time. */
  async transition(pool: string, backend: string, healthy: boolean, since: number, timeoutMs: number): Promise<{ at: number; reason: string }> {
    const line = await this.running.waitForLine(
      (entry) => entry.msg === (healthy ? 'backend up' : 'backend down') && entry.pool === pool && entry.backend === backend && logTime(entry) >= since,
      timeoutMs,
    );
    return { at: logTime(line), reason: String(line.reason) };
  }
}

/** Share of `samples` answered by `origin`. */
export function shareOf(samples: readonly { origin: string }[], origin: string): number {
  if (samples.length === 0) return 0;
  return samples.filter((sample) => sample.origin === origin).length / samples.length;
}

/** A compact description of failed requests, for assertion messages and the report. */
export function describeFailures(failures: readonly { start: number; end: number; status: number; error?: string; message?: string; origin: string }[], since: number): string {
  return failures
    .slice(0, 12)
    .map((failure) => `+${failure.start - since}ms..+${failure.end - since}ms status=${failure.status} ${failure.error ?? ''} ${failure.message ?? ''}`.trim())
    .join('; ');
}

/** A log line's time in ms (the logger writes ISO timestamps with millisecond precision). */
export function logTime(line: Record<string, unknown>): number {
  return typeof line.time === 'number' ? line.time : Date.parse(String(line.time));
}
