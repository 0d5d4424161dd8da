// Which local store this process uses: a worker process with siblings (node:cluster, the primary holds the
// buckets) leases tokens over the IPC channel it already has; a process that serves the instance's traffic
// alone (`workers: 0`, `workers: 1`, tests) keeps the buckets in its own memory, with no round trip. The
// primary tells each worker how many there are (SWITCHYARD_WORKERS, set at fork by the worker pool). The
// choice is made once per process, when the store is first built.
import cluster from 'node:cluster';
import { LeaseClient, type LeaseChannel, type RateLeaseReply } from './lease.ts';
import { InProcessStore, type RateStore } from './store.ts';

function isReply(message: unknown): message is RateLeaseReply {
  return (message as { type?: unknown } | null)?.type === 'rate_lease_reply';
}

/** The cluster IPC channel of a worker process; undefined in the primary or a single process. */
function workerChannel(): LeaseChannel | undefined {
  if (!cluster.isWorker || typeof process.send !== 'function' || process.env.SWITCHYARD_WORKERS === '1') return undefined;
  return {
    send: (request) => {
      process.send!(request);
    },
    onReply: (listener) => {
      process.on('message', (message: unknown) => {
        if (isReply(message)) listener(message);
      });
    },
  };
}

export function localStore(now: () => number): RateStore {
  const channel = workerChannel();
  return channel === undefined ? new InProcessStore(now) : new LeaseClient(channel, now);
}
