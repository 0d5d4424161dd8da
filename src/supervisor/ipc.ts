// Messages between the primary (control plane) and worker processes (traffic planes), over cluster IPC with
// serialization 'advanced' (structured clone: the config snapshot travels as the validated object).
import type { ConfigSnapshot } from './config-snapshot.ts';
import type { RecentQuery } from '../telemetry/index.ts';

export type ToWorker =
  | { type: 'apply'; id: number; snapshot: ConfigSnapshot; ticketSeed: string; traceToken?: string }
  | { type: 'health'; pool: string; backend: string; healthy: boolean; reason: string }
  | { type: 'draining'; id: number; pool: string; backend: string; draining: boolean }
  | { type: 'status'; id: number }
  /** Replied with a TrafficMetrics (request-counters.ts). */
  | { type: 'metrics'; id: number }
  | { type: 'drain'; id: number; deadline: number }
  /** Replied with RecentRequest[] (src/telemetry recent-requests.ts). */
  | { type: 'requests'; id: number; query: RecentQuery };

export type FromWorker =
  | { type: 'reply'; id: number; ok: boolean; error?: string; value?: unknown };
