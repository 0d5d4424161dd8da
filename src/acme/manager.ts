// AcmeManager: the control plane's side of `tls.acme` — for each listener that has it, a job that keeps a
// certificate from the CA in data_dir (store.ts), ordered when missing or due (schedule.ts) and retried
// with backoff on failure. The traffic planes never talk to the CA: they answer the challenges the manager
// publishes (challenge-board.ts) and hot-swap the certificate when its files change (src/tls watches them).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import type { AcmeConfig } from '../config/index.ts';
import { messageOf, type Clock, type Logger, type TimerHandle } from '../core/index.ts';
import { AcmeClient } from './client.ts';
import type { ChallengeSet } from './challenge-board.ts';
import { issueCertificate, type ChallengePublisher, type ChallengeType } from './order.ts';
import { backoffMs, keepable, renewalTime } from './schedule.ts';
import { AcmeStore, type IssuedMeta } from './store.ts';
import { placeholderCertificate } from './x509.ts';
import { fetchOcsp } from './ocsp.ts';
import { SharedAcmeStore, sharedIdOf } from './shared-store.ts';

export interface AcmeListener {
  name: string;
  acme: AcmeConfig;
}

export interface AcmeManagerOptions {
  /** Absolute data directory. */
  dataDir: string;
  logger: Logger;
  clock: Clock;
  /** Hands every traffic plane the complete set of pending challenges; resolves once they all have it. */
  publish(set: ChallengeSet): Promise<void>;
}

export interface AcmeCertificateStatus {
  listener: string;
  hosts: string[];
  state: 'temporary' | 'issued';
  not_after?: string;
  next_attempt?: string;
  failures: number;
  last_error?: string;
  /** The stapled OCSP response's state, once asked. */
  ocsp?: string;
}

/** setTimeout holds at most 2^31-1 ms (24.8 days); a later renewal is reached by re-arming. */
const maxTimerMs = 2 ** 31 - 1;
/** An order holds the shared lock at most this long (an instance that dies mid-order frees it by expiry). */
const lockTtlMs = 10 * 60_000;
/** While another instance orders, look for its certificate this often. */
const sharedPollMs = 2_000;
/** OCSP: ask again halfway to the response's nextUpdate (at least this), every 12 h without one, retry failures within an hour. */
const minOcspRefreshMs = 60_000;
const defaultOcspRefreshMs = 12 * 3600 * 1000;
const maxOcspBackoffMs = 3600 * 1000;

const listenerKey = (listener: AcmeListener, baseDir: string): string => JSON.stringify([listener.acme, baseDir]);

export class AcmeManager {
  private readonly options: AcmeManagerOptions;
  readonly store: AcmeStore;
  private readonly jobs = new Map<string, { key: string; job: CertificateJob }>();
  /** Promises, so that jobs starting together share one account key and client. */
  private readonly clients = new Map<string, Promise<AcmeClient>>();
  private readonly pending = new Map<string, ChallengeSet>();
  /** `tls.acme.redis` stores by URL, and the challenges the other instances asked to answer. */
  private readonly sharedStores = new Map<string, SharedAcmeStore>();
  private readonly remote = new Map<string, ChallengeSet>();
  constructor(options: AcmeManagerOptions) {
    this.options = options;
    this.store = new AcmeStore(options.dataDir);
  }

  /**
   * Before the traffic planes (re)load: every ACME listener must find a certificate pair on disk. Where none
   * covers the configured names yet, a temporary self-signed one is written (and said so in the log).
   */
  async prepare(listeners: readonly AcmeListener[]): Promise<void> {
    for (const listener of listeners) {
      const stored = await this.store.read({ name: listener.name, hosts: listener.acme.hosts });
      // the files are per set of names (src/tls acme-files.ts): any pair there is for these names; an issued
      // one is kept even when expired (the job orders at once), a temporary one is made again when expired
      if (stored.leaf !== undefined && (stored.meta !== undefined || Date.parse(stored.leaf.validTo) > this.options.clock.now())) continue;
      await this.store.write({ name: listener.name, hosts: listener.acme.hosts }, await placeholderCertificate(listener.acme.hosts, this.options.clock.now()), undefined);
      this.options.logger.warn({ listener: listener.name, hosts: listener.acme.hosts }, `acme ${listener.name}: serving a temporary self-signed certificate until the CA issues one`);
    }
  }

  /** Starts, keeps or replaces the jobs after a config was applied (prepare() ran for it). */
  apply(listeners: readonly AcmeListener[], baseDir: string): void {
    const wanted = new Map(listeners.map((listener) => [listener.name, listener]));
    for (const [name, running] of this.jobs) {
      const next = wanted.get(name);
      if (next !== undefined && listenerKey(next, baseDir) === running.key) continue;
      running.job.stop();
      this.jobs.delete(name);
    }
    for (const listener of listeners) {
      if (this.jobs.has(listener.name)) continue;
      const job = new CertificateJob(listener, baseDir, this);
      this.jobs.set(listener.name, { key: listenerKey(listener, baseDir), job });
      job.start();
    }
  }

  get logger(): Logger {
    return this.options.logger;
  }

  get clock(): Clock {
    return this.options.clock;
  }

  /** One client (and account) per CA directory and trust file. */
  client(acme: AcmeConfig, baseDir: string): Promise<AcmeClient> {
    const caFile = acme.ca === undefined ? undefined : path.resolve(baseDir, acme.ca);
    const key = `${acme.directory}\n${caFile ?? ''}`;
    let client = this.clients.get(key);
    if (client === undefined) {
      client = (async () => {
        const ca = caFile === undefined ? undefined : await readFile(caFile);
        return new AcmeClient({ directoryUrl: acme.directory, ca, accountKey: await this.store.accountKey(acme.directory) });
      })();
      this.clients.set(key, client);
      // a failure (unreadable ca file) is not kept: the next attempt reads again
      client.catch(() => this.clients.delete(key));
    }
    return client;
  }

  /** The shared store for a Redis URL, connected on first use. */
  async shared(url: string): Promise<SharedAcmeStore> {
    let store = this.sharedStores.get(url);
    if (store === undefined) {
      store = new SharedAcmeStore({
        url,
        logger: this.options.logger,
        onRemoteChallenges: (set) => {
          this.remote.set(url, set);
          return this.options.publish(this.currentChallenges());
        },
      });
      this.sharedStores.set(url, store);
    }
    await store.start();
    return store;
  }

  /** The union of every job's pending challenges goes to the traffic planes (and the shared stores) at each change. */
  readonly publisher: ChallengePublisher = {
    add: (owner, set) => {
      this.pending.set(owner, set);
      return this.publishAll();
    },
    remove: (owner) => {
      if (!this.pending.delete(owner)) return Promise.resolve();
      return this.publishAll();
    },
  };

  private async publishAll(): Promise<void> {
    await this.options.publish(this.currentChallenges());
    const own = union(this.pending.values());
    await Promise.all([...this.sharedStores.values()].map((store) => store.shareChallenges(own)));
  }

  /** What this instance answers: its own pending challenges and the other instances' (shared stores). */
  currentChallenges(): ChallengeSet {
    return union([...this.pending.values(), ...this.remote.values()]);
  }

  status(): AcmeCertificateStatus[] {
    return [...this.jobs.values()].map(({ job }) => job.status());
  }

  async stop(): Promise<void> {
    for (const { job } of this.jobs.values()) job.stop();
    this.jobs.clear();
    await Promise.all([...this.clients.values()].map((client) => client.then((one) => one.close(), () => undefined)));
    this.clients.clear();
    await Promise.all([...this.sharedStores.values()].map((store) => store.stop()));
    this.sharedStores.clear();
  }
}

function union(sets: Iterable<ChallengeSet>): ChallengeSet {
  const set: ChallengeSet = { http: [], dns: [], tls: [] };
  for (const one of sets) {
    set.http.push(...one.http);
    set.dns.push(...one.dns);
    set.tls!.push(...(one.tls ?? []));
  }
  return set;
}


/** One listener's certificate: check what is stored, order when due, then sleep until the next renewal. */
class CertificateJob {
  private readonly listener: AcmeListener;
  private readonly baseDir: string;
  private readonly manager: AcmeManager;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private running = false;
  private failures = 0;
  private lastError: string | undefined;
  private nextAttempt: number | undefined;
  private notAfter: string | undefined;
  private issued = false;
  /** Another instance holds the shared lock (logged once per wait). */
  private waitingForShared = false;
  private ocspTimer: TimerHandle | undefined;
  private ocspFailures = 0;
  /** The stapled response's status and next update, for status(). */
  private ocspState: string | undefined;

  constructor(listener: AcmeListener, baseDir: string, manager: AcmeManager) {
    this.listener = listener;
    this.baseDir = baseDir;
    this.manager = manager;
  }

  start(): void {
    const redis = this.listener.acme.redis;
    // connected at once, not at the first order: this instance answers the others' challenges meanwhile
    if (redis !== undefined) void this.manager.shared(redis).catch((err: unknown) => this.manager.logger.warn({ listener: this.name, error: messageOf(err) }, `acme ${this.name}: redis ${redis}: ${messageOf(err)}`));
    void this.check();
  }

  private get name(): string {
    return this.listener.name;
  }

  private get owner(): { name: string; hosts: readonly string[] } {
    return { name: this.listener.name, hosts: this.listener.acme.hosts };
  }

  private async check(): Promise<void> {
    const stored = await this.manager.store.read(this.owner).catch(() => undefined);
    const meta = stored?.meta ?? undefined;
    const acme = this.listener.acme;
    if (meta && meta.directory === acme.directory) {
      this.issued = true;
      this.notAfter = meta.not_after;
      const window = { hosts: meta.hosts, notBefore: Date.parse(meta.not_before), notAfter: Date.parse(meta.not_after) };
      if (keepable(window, acme.hosts, this.manager.clock.now(), acme.renew_before)) {
        this.scheduleAt(renewalTime(window.notBefore, window.notAfter, acme.renew_before));
        this.startOcsp();
        return;
      }
    }
    await this.run();
  }

  private scheduleAt(at: number): void {
    if (this.stopped) return;
    this.nextAttempt = at;
    const delay = Math.max(0, at - this.manager.clock.now());
    this.timer = this.manager.clock.setTimeout(() => {
      this.timer = undefined;
      if (delay > maxTimerMs) this.scheduleAt(at);
      else void this.run();
    }, Math.min(delay, maxTimerMs));
    this.timer.unref?.();
  }

  private async run(): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = true;
    const { logger, clock } = this.manager;
    const acme = this.listener.acme;
    let release: (() => Promise<void>) | undefined;
    try {
      const shared = acme.redis === undefined ? undefined : await this.manager.shared(acme.redis);
      const sharedId = sharedIdOf(acme.directory, acme.hosts);
      if (shared !== undefined) {
        // another instance may have ordered already (or be ordering): take its certificate rather than order
        if (await this.adoptShared(shared, sharedId)) return;
        const token = await shared.lock(sharedId, lockTtlMs);
        if (token === undefined) {
          if (!this.waitingForShared) logger.info({ listener: this.name, hosts: acme.hosts }, `acme ${this.name}: another instance is ordering ${acme.hosts.join(', ')}; waiting for its certificate in redis`);
          this.waitingForShared = true;
          this.scheduleAt(clock.now() + sharedPollMs);
          return;
        }
        release = () => shared.unlock(sharedId, token);
        // it may have finished between the look and the lock
        if (await this.adoptShared(shared, sharedId)) return;
      }
      this.waitingForShared = false;
      logger.info({ listener: this.name, hosts: acme.hosts, directory: acme.directory }, `acme ${this.name}: ordering a certificate for ${acme.hosts.join(', ')}`);
      const client = await this.manager.client(acme, this.baseDir);
      const contact = acme.contact === undefined ? [] : Array.isArray(acme.contact) ? acme.contact : [acme.contact];
      const issued = await issueCertificate(
        { owner: this.name, hosts: acme.hosts, challenges: acme.challenges as ChallengeType[], contact },
        { client, publisher: this.manager.publisher, logger, clock },
      );
      if (this.stopped) return;
      const leaf = new X509Certificate(issued.certPem);
      const meta: IssuedMeta = { directory: acme.directory, hosts: [...acme.hosts], not_before: new Date(leaf.validFrom).toISOString(), not_after: new Date(leaf.validTo).toISOString(), issued_at: new Date(clock.now()).toISOString() };
      await this.manager.store.write(this.owner, issued, meta);
      if (shared !== undefined) await shared.put(sharedId, { ...issued, meta });
      this.failures = 0;
      this.lastError = undefined;
      this.issued = true;
      this.notAfter = meta.not_after;
      const renewAt = renewalTime(Date.parse(meta.not_before), Date.parse(meta.not_after), acme.renew_before);
      logger.info({ listener: this.name, hosts: acme.hosts, not_after: meta.not_after, renew_at: new Date(renewAt).toISOString(), issuer: leaf.issuer }, `acme ${this.name}: certificate issued, valid until ${meta.not_after}`);
      this.scheduleAt(renewAt);
      this.startOcsp();
    } catch (err) {
      if (this.stopped) return;
      this.failures++;
      this.lastError = messageOf(err);
      const delay = backoffMs(this.failures);
      logger.error({ listener: this.name, failures: this.failures, retry_in_ms: delay, error: this.lastError }, `acme ${this.name}: order failed (${this.lastError}); retrying in ${Math.round(delay / 1000)} s`);
      this.scheduleAt(clock.now() + delay);
    } finally {
      await release?.().catch(() => undefined);
      this.running = false;
    }
  }

  /** Takes the certificate another instance put in redis when it is newer than ours and not due; true when taken. */
  private async adoptShared(shared: SharedAcmeStore, id: string): Promise<boolean> {
    const acme = this.listener.acme;
    const found = await shared.get(id);
    if (found === undefined) return false;
    const window = { hosts: found.meta.hosts, notBefore: Date.parse(found.meta.not_before), notAfter: Date.parse(found.meta.not_after) };
    const clock = this.manager.clock;
    if (!keepable(window, acme.hosts, clock.now(), acme.renew_before)) return false;
    if (this.notAfter === undefined || Date.parse(this.notAfter) < window.notAfter) {
      await this.manager.store.write(this.owner, found, found.meta);
      this.startOcsp();
      this.manager.logger.info({ listener: this.name, hosts: acme.hosts, not_after: found.meta.not_after }, `acme ${this.name}: certificate taken from redis (ordered by another instance), valid until ${found.meta.not_after}`);
    }
    this.issued = true;
    this.notAfter = found.meta.not_after;
    this.waitingForShared = false;
    this.failures = 0;
    this.lastError = undefined;
    this.scheduleAt(renewalTime(window.notBefore, window.notAfter, acme.renew_before));
    return true;
  }

  /** (Re)starts the OCSP refresh for the certificate just stored or kept. */
  private startOcsp(): void {
    if (this.ocspTimer !== undefined) this.manager.clock.clearTimeout(this.ocspTimer);
    this.ocspTimer = undefined;
    this.ocspFailures = 0;
    void this.refreshOcsp();
  }

  private scheduleOcsp(delayMs: number): void {
    if (this.stopped) return;
    this.ocspTimer = this.manager.clock.setTimeout(() => {
      this.ocspTimer = undefined;
      void this.refreshOcsp();
    }, Math.min(delayMs, maxTimerMs));
    this.ocspTimer.unref?.();
  }

  /** Asks the CA's OCSP responder about the stored certificate and keeps a "good" answer for stapling. */
  private async refreshOcsp(): Promise<void> {
    if (this.stopped) return;
    const { logger, clock, store } = this.manager;
    const files = store.files(this.owner);
    try {
      const answer = await fetchOcsp(await readFile(files.cert, 'utf8'), files.dir);
      if (this.stopped) return;
      if (answer === undefined) {
        this.ocspState = 'no responder named in the certificate';
        return;
      }
      if (answer.status !== 'good') throw new Error(`ocsp: the responder answers ${answer.status}`);
      await store.writeOcsp(this.owner, answer.der);
      this.ocspFailures = 0;
      const next = answer.nextUpdate === undefined ? undefined : new Date(answer.nextUpdate).toISOString();
      this.ocspState = `good${next ? `, next update ${next}` : ''}`;
      logger.info({ listener: this.name, next_update: next }, `acme ${this.name}: stapling an OCSP response (good${next ? `, next update ${next}` : ''})`);
      this.scheduleOcsp(answer.nextUpdate === undefined ? defaultOcspRefreshMs : Math.max(minOcspRefreshMs, (answer.nextUpdate - clock.now()) / 2));
    } catch (err) {
      if (this.stopped) return;
      this.ocspFailures++;
      const delay = Math.min(maxOcspBackoffMs, backoffMs(this.ocspFailures));
      this.ocspState = `failing: ${messageOf(err)}`;
      logger.warn({ listener: this.name, failures: this.ocspFailures, retry_in_ms: delay, error: messageOf(err) }, `acme ${this.name}: no OCSP response to staple (${messageOf(err)}); asking again in ${Math.round(delay / 1000)} s`);
      this.scheduleOcsp(delay);
    }
  }

  status(): AcmeCertificateStatus {
    return {
      listener: this.name,
      hosts: [...this.listener.acme.hosts],
      state: this.issued ? 'issued' : 'temporary',
      not_after: this.notAfter,
      next_attempt: this.nextAttempt === undefined ? undefined : new Date(this.nextAttempt).toISOString(),
      failures: this.failures,
      last_error: this.lastError,
      ocsp: this.ocspState,
    };
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.manager.clock.clearTimeout(this.timer);
    this.timer = undefined;
    if (this.ocspTimer !== undefined) this.manager.clock.clearTimeout(this.ocspTimer);
    this.ocspTimer = undefined;
  }
}
