// "pick upstream" for a request sent as an HTTP/2 stream: lease the pool's choice and a session to that
// backend; a backend that cannot be reached is released as connect_error, kept in `tried` and the next one
// picked. Shared by the HTTP/2 stream proxy and the HTTP/1.1 exchange proxy, whose retries after a refused
// stream re-enter here and count against the same number of attempts.
import type { ClientHttp2Session } from 'node:http2';
import type { BalanceInput, Lease } from '../../pool/index.ts';
import type { UpstreamPool } from '../../l7/index.ts';
import type { H2UpstreamSessions } from './sessions.ts';

export interface PickedSession {
  lease: Lease;
  session: ClientHttp2Session;
  /** Gives the session's stream slot back; call once the stream is over. */
  done: () => void;
}

export type PickResult = { picked: PickedSession } | { failed: unknown } | { abandoned: true };

export class SessionPicker {
  /** Backend ids tried so far by this request. */
  readonly tried = new Set<string>();
  private readonly pool: UpstreamPool;
  private readonly sessions: H2UpstreamSessions;
  private readonly balance: BalanceInput;
  private readonly maxAttempts: number;
  private used = 0;

  constructor(pool: UpstreamPool, sessions: H2UpstreamSessions, balance: BalanceInput, maxAttempts: number) {
    this.pool = pool;
    this.sessions = sessions;
    this.balance = balance;
    this.maxAttempts = maxAttempts;
  }

  /** Whether another backend may still be tried. */
  canRetry(): boolean {
    return this.used < this.maxAttempts;
  }

  /**
   * The next backend with a session. `failed` carries the last connect error (undefined when no backend was
   * usable); `abandoned` means the request ended while a session was being opened (nothing is held then).
   */
  async next(abandoned: () => boolean): Promise<PickResult> {
    let lastError: unknown;
    while (this.used < this.maxAttempts && !abandoned()) {
      this.used++;
      const lease = this.pool.pick(this.balance, this.tried);
      if (lease === undefined) break;
      this.tried.add(lease.backend.id);
      let acquired: { session: ClientHttp2Session; done: () => void };
      try {
        acquired = await this.sessions.acquire(lease.backend);
      } catch (err) {
        lease.release('connect_error');
        lastError = err;
        continue;
      }
      if (abandoned()) {
        acquired.done();
        lease.release('cancelled');
        return { abandoned: true };
      }
      return { picked: { lease, session: acquired.session, done: acquired.done } };
    }
    if (abandoned()) return { abandoned: true };
    return { failed: lastError };
  }
}
