// Which component serves which listener protocol. The supervisor knows listeners only through this
// narrow interface, so L7, HTTP/2, L4 and the forward proxy plug in the same way.
import type { ListenerConfig, PoolConfig } from '../config/index.ts';
import type { Clock, Component, Logger } from '../core/index.ts';
import type { PoolRegistry } from '../pool/index.ts';
import type { RequestRecord } from './request-counters.ts';
import type { AlpnChallengeSource } from '../tls/index.ts';
import type { AccessRecordSink, DnsAnswerer, FilterHost, HttpChallengeSource } from '../l7/index.ts';

export interface ListenerDeps {
  pools: PoolRegistry;
  logger: Logger;
  accessLog: Logger;
  clock: Clock;
  /** Absolute data directory (self-signed certificates, state). */
  dataDir: string;
  /** Directory relative paths of the config resolve against. */
  baseDir: string;
  /** The snapshot's pool configs (kept Pool objects take them only when the reload commits). */
  poolConfigs: Readonly<Record<string, PoolConfig>>;
  /** Session-ticket key seed shared by every worker, so a session resumes whichever worker accepts it. */
  ticketSeed?: Buffer;
  /** The admin token: requests that carry it get the edge's Server-Timing phases. */
  traceToken?: string;
  /** Metrics: called once per finished HTTP request. */
  onRequestDone?: (record: RequestRecord) => void;
  /** Switchyard's own DNS server (a UDP address of dns.listen) when the config runs dns.resolver. */
  resolver?: { host: string; port: number };
  /** Telemetry: sees every HTTP request's access record. */
  spans?: AccessRecordSink;
  /** HTTP listeners: the process's filter host (ListenerFactories sets it). */
  filters?: FilterHost;
  /** DNS over HTTPS (`dns: {}` routes): the process's DNS engine. */
  dns?: DnsAnswerer;
  /** ACME http-01 tokens pending in this process (http listeners answer them before routing). */
  acmeHttp?: HttpChallengeSource;
  /** ACME tls-alpn-01 certificates pending in this process (https listeners with tls.acme answer them). */
  acmeTls?: AlpnChallengeSource;
}

export interface TrafficListener extends Component {
  address(): { host: string; port: number };
  status(): unknown;
  /** Reload: new connections and requests use the new routes and pools; in-flight ones keep theirs. */
  updateConfig(listener: ListenerConfig, pools: PoolRegistry, poolConfigs: Readonly<Record<string, PoolConfig>>): void;
}

export type ListenerFactory = (listener: ListenerConfig, deps: ListenerDeps) => TrafficListener;
