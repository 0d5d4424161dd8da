// `tls.acme.redis`: several instances serving the same names share one certificate through Redis, and one
// of them orders it. Keys (per CA directory and set of names, so unrelated edges never collide):
//   switchyard:acme:<id>:cert   the issued pair and its meta (JSON), expiring with the certificate
//   switchyard:acme:<id>:lock   SET NX PX: held by the instance that orders, released by compare-and-delete
// Challenges are shared too: the CA may ask any instance (DNS NS records, a load balancer in front of
// port 80), so the ordering instance puts its pending challenges in the hash switchyard:acme:challenges
// (field: its instance id) and announces them on a channel; every instance answers the union of all, and
// acknowledges on another channel once its traffic planes have them. The orderer waits for as many acks
// as there are other instances listening (PUBSUB NUMSUB), bounded, before telling the CA to validate.
import { createHash, randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { messageOf, type Logger } from '../core/index.ts';
import type { ChallengeSet } from './challenge-board.ts';
import type { IssuedMeta } from './store.ts';

export interface SharedCertificate {
  certPem: string;
  keyPem: string;
  meta: IssuedMeta;
}

const prefix = 'switchyard:acme:';
const challengesKey = `${prefix}challenges`;
const announceChannel = `${prefix}challenges:announce`;
const ackChannel = `${prefix}challenges:ack`;
/** How long an orderer waits for the other instances to have its challenges in place. */
const ackTimeoutMs = 10_000;
/** Compare-and-delete: only the holder releases the lock (it may have expired and been taken by another). */
const unlockScript = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export function sharedIdOf(directory: string, hosts: readonly string[]): string {
  return createHash('sha256').update(`${directory}\n${[...hosts].sort().join(',')}`).digest('hex').slice(0, 32);
}

export interface SharedStoreOptions {
  url: string;
  logger: Logger;
  /** Called with the union of the other instances' challenges whenever it changes; resolves once they are answered here. */
  onRemoteChallenges(set: ChallengeSet): Promise<void>;
}

export class SharedAcmeStore {
  readonly url: string;
  /** This instance, in the challenges hash and the acks. */
  readonly instance = randomBytes(8).toString('hex');
  private readonly options: SharedStoreOptions;
  private client: Redis | undefined;
  private subscriber: Redis | undefined;
  private started: Promise<void> | undefined;
  private version = 0;
  private readonly ackWaiters = new Map<string, { needed: number; seen: number; done: () => void }>();

  constructor(options: SharedStoreOptions) {
    this.url = options.url;
    this.options = options;
  }

  /** Connects and subscribes (once); later calls wait for the first. */
  start(): Promise<void> {
    // a failed connection is not kept: the next order attempt (after its backoff) connects again
    this.started ??= this.connect().catch((err: unknown) => {
      this.started = undefined;
      this.client?.disconnect();
      this.subscriber?.disconnect();
      this.client = this.subscriber = undefined;
      throw err;
    });
    return this.started;
  }

  private async connect(): Promise<void> {
    const { Redis } = await import('ioredis');
    // commands fail after a few reconnect attempts instead of queueing forever: an order waits on none of them
    const options = { maxRetriesPerRequest: 2, connectTimeout: 5_000, commandTimeout: 5_000, retryStrategy: (attempt: number) => Math.min(attempt * 200, 2_000) };
    const client = new Redis(this.url, options);
    const subscriber = new Redis(this.url, { ...options, commandTimeout: undefined });
    for (const one of [client, subscriber]) one.on('error', (err) => this.options.logger.debug({ error: messageOf(err) }, `acme: redis ${this.url}: ${messageOf(err)}`));
    this.client = client;
    this.subscriber = subscriber;
    subscriber.on('message', (channel: string, message: string) => void this.onMessage(channel, message));
    await subscriber.subscribe(announceChannel, ackChannel);
    // challenges published before this instance listened
    await this.refreshRemote();
  }

  private async onMessage(channel: string, message: string): Promise<void> {
    if (channel === ackChannel) {
      const waiter = this.ackWaiters.get(message);
      if (waiter && ++waiter.seen >= waiter.needed) waiter.done();
      return;
    }
    const [origin, version] = message.split(' ');
    if (origin === this.instance) return;
    try {
      await this.refreshRemote();
      await this.client!.publish(ackChannel, `${origin} ${version}`);
    } catch (err) {
      this.options.logger.warn({ error: messageOf(err) }, `acme: redis ${this.url}: cannot take the other instances' challenges: ${messageOf(err)}`);
    }
  }

  private async refreshRemote(): Promise<void> {
    const all = await this.client!.hgetall(challengesKey);
    const set: ChallengeSet = { http: [], dns: [], tls: [] };
    for (const [instance, text] of Object.entries(all)) {
      if (instance === this.instance) continue;
      const one = JSON.parse(text) as ChallengeSet;
      set.http.push(...one.http);
      set.dns.push(...one.dns);
      set.tls!.push(...(one.tls ?? []));
    }
    await this.options.onRemoteChallenges(set);
  }

  /** Puts this instance's pending challenges (empty: withdraws them) and, when adding, waits for the others to answer them. */
  async shareChallenges(set: ChallengeSet): Promise<void> {
    await this.start();
    const client = this.client!;
    const empty = set.http.length === 0 && set.dns.length === 0 && (set.tls ?? []).length === 0;
    if (empty) await client.hdel(challengesKey, this.instance);
    else await client.hset(challengesKey, this.instance, JSON.stringify(set));
    const message = `${this.instance} ${++this.version}`;
    // every subscriber but this instance's own connection
    const [, listening] = (await client.pubsub('NUMSUB', announceChannel)) as [string, number];
    const others = Number(listening) - 1;
    if (empty || others <= 0) {
      await client.publish(announceChannel, message);
      return;
    }
    const acked = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ackTimeoutMs);
      this.ackWaiters.set(message, { needed: others, seen: 0, done: () => (clearTimeout(timer), resolve(true)) });
    });
    await client.publish(announceChannel, message);
    const complete = await acked;
    this.ackWaiters.delete(message);
    if (!complete) this.options.logger.warn({ instances: others }, `acme: not every instance confirmed the challenges within ${ackTimeoutMs} ms; validating anyway`);
  }

  async get(id: string): Promise<SharedCertificate | undefined> {
    await this.start();
    const text = await this.client!.get(`${prefix}${id}:cert`);
    return text === null ? undefined : (JSON.parse(text) as SharedCertificate);
  }

  async put(id: string, certificate: SharedCertificate): Promise<void> {
    await this.start();
    const ttl = Math.max(1_000, Date.parse(certificate.meta.not_after) - Date.now());
    await this.client!.set(`${prefix}${id}:cert`, JSON.stringify(certificate), 'PX', ttl);
  }

  /** The lock's token when this instance got it; undefined when another instance holds it. */
  async lock(id: string, ttlMs: number): Promise<string | undefined> {
    await this.start();
    const token = `${this.instance}:${randomBytes(8).toString('hex')}`;
    const reply = await this.client!.set(`${prefix}${id}:lock`, token, 'PX', ttlMs, 'NX');
    return reply === 'OK' ? token : undefined;
  }

  async unlock(id: string, token: string): Promise<void> {
    await this.client?.eval(unlockScript, 1, `${prefix}${id}:lock`, token);
  }

  async stop(): Promise<void> {
    const client = this.client;
    const subscriber = this.subscriber;
    this.client = undefined;
    this.subscriber = undefined;
    await client?.hdel(challengesKey, this.instance).catch(() => undefined);
    client?.disconnect();
    subscriber?.disconnect();
  }
}
