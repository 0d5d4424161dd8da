// Messages between the primary (control plane) and worker processes (traffic planes), over cluster IPC with
// serialization 'advanced' (structured clone: the config snapshot travels as the validated object).
import type { ConfigSnapshot } from './config-snapshot.ts';
import type { RateLeaseReply, RateLeaseRequest } from '../l7/index.ts';
import type { RecentQuery } from '../telemetry/index.ts';
import type { ChallengeSet } from '../acme/index.ts';

export type ToWorker =
  | { type: 'apply'; id: number; snapshot: ConfigSnapshot; ticketSeed: string; traceToken?: string }
  | { type: 'health'; pool: string; backend: string; healthy: boolean; reason: string }
  | { type: 'draining'; id: number; pool: string; backend: string; draining: boolean }
  | { type: 'status'; id: number }
  /** ACME: the complete set of challenges to answer now (replaces the previous set); replied when in place. */
  | { type: 'acme_challenges'; id: number; set: ChallengeSet }
  /** Replied with a TrafficMetrics (request-counters.ts). */
  | { type: 'metrics'; id: number }
  | { type: 'drain'; id: number; deadline: number }
  /** Replied with the number of cache entries dropped. */
  | { type: 'purge'; id: number; url?: string; prefix?: string }
  /** The primary's answer to a worker's rate_limit token lease (read by the worker's lease client, not handle()). */
  | RateLeaseReply
  /** Replied with RecentRequest[] (src/telemetry recent-requests.ts). */
  | { type: 'requests'; id: number; query: RecentQuery };

/** A worker's answer to one of the primary's requests. */
export type WorkerReply = { type: 'reply'; id: number; ok: boolean; error?: string; value?: unknown };

export type FromWorker =
  | WorkerReply
  /** `rate_limit` with `store: local`: the worker leases tokens of one bucket from the primary's table. */
  | RateLeaseRequest;
