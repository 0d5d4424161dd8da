// ListenerRuntime: one listener's config compiled for the data path (router, timeouts in ms, header
// masks, forwarded settings). Immutable; a reload builds a new one and swaps it in, and each request
// keeps the runtime it started with.
import path from 'node:path';
import type { ListenerConfig } from '../config/index.ts';
import type { StaticAction } from './router/actions.ts';
import { StaticFiles } from './responders/static-files.ts';
import type { UpstreamPool, UpstreamPools, UpstreamSettings } from './types.ts';
import { Router } from './router/router.ts';
import { TrustedProxies } from './forwarded.ts';
import { REQUEST_ALWAYS_DROP, bit } from './rewrite.ts';
import { H_X_FORWARDED_FOR, H_X_REAL_IP, H_X_FORWARDED_PROTO, H_X_FORWARDED_HOST, H_X_FORWARDED_PORT, H_FORWARDED, H_TRACEPARENT } from './parse/request-head.ts';
import { DEFAULT_UPSTREAM_SETTINGS } from './upstream/connector.ts';
import { loadUpstreamTls, settingsOf } from './settings.ts';
// policy.ts alone: the tls index would load node:tls and the certificate tooling into http-only workers
import { altSvcHeaderValue, hstsHeaderValue } from '../tls/index.ts';
import { HttpDate } from '../core/index.ts';
import { buildBuiltins, builtinSettings, type BuiltinFilters, type FilterHost } from './filters/index.ts';

/** The request fields the parser classifies into kinds: a built-in's upstreamRemoves become a drop mask. */
const KIND_OF: Readonly<Record<string, number>> = {
  'x-forwarded-for': H_X_FORWARDED_FOR,
  'x-real-ip': H_X_REAL_IP,
  'x-forwarded-proto': H_X_FORWARDED_PROTO,
  'x-forwarded-host': H_X_FORWARDED_HOST,
  'x-forwarded-port': H_X_FORWARDED_PORT,
  forwarded: H_FORWARDED,
  traceparent: H_TRACEPARENT,
};

export class ListenerRuntime {
  readonly name: string;
  readonly router: Router;
  readonly scheme: 'http' | 'https';
  readonly headerTimeout: number;
  readonly idleTimeout: number;
  readonly bodyTimeout: number;
  /** timeouts.body_total: the whole request body, from the end of its head. */
  readonly bodyTotalTimeout: number;
  readonly connectTimeout: number;
  readonly responseTimeout: number;
  readonly tunnelIdleTimeout: number;
  readonly maxHeaderSize: number;
  readonly maxBodySize: number;
  readonly maxRequestsPerConnection: number;
  /** request_buffering (the listener's; routes may override enabled and memory_max). */
  readonly bufferingEnabled: boolean;
  readonly bufferingMemoryMax: number;
  readonly trusted: TrustedProxies;
  /** The built-in filters (forwarded headers, request id, trace context, hide, HSTS, Server-Timing). */
  readonly builtins: BuiltinFilters;
  /** Lower-case request-id header name, '' when disabled. */
  readonly requestIdName: string;
  /** Response header names removed (lower-case). */
  readonly hidden: readonly string[];
  /**
   * Request header kinds removed before the head goes upstream: hop-by-hop ones and the built-ins'
   * upstreamRemoves (names outside the parser's kinds are dropped by name: upstreamDropNames).
   */
  readonly requestDropMask: number;
  /** The built-ins' upstreamRemoves the parser has no kind for (null: none, the usual case). */
  readonly upstreamDropNames: readonly string[] | null;
  readonly pools: UpstreamPools;
  readonly upstreamSettings: ReadonlyMap<string, UpstreamSettings>;
  readonly accessLog: boolean;
  /**
   * Header lines ("name: value\r\n") every response head written on this listener carries:
   * Strict-Transport-Security on https listeners with `tls.hsts`, Alt-Svc on those with `http3`, else ''. Built once per runtime, and
   * pre-joined with each Connection line below, so that a response head needs no concatenation for them.
   */
  readonly responseLines: string;
  /** `connection: close` + responseLines. */
  readonly closeLines: string;
  /** `connection: keep-alive` + responseLines (HTTP/1.0 keep-alive clients). */
  readonly keepAliveLines: string;
  /** `connection: upgrade` + responseLines (a 101 that starts a tunnel). */
  readonly upgradeLines: string;
  /** The Date of responses made here (errors, redirects, fixed, static), formatted once per second. */
  readonly date = new HttpDate();
  private readonly baseDir: string;
  /** Static responders of this runtime's routes, built on first use. */
  private readonly statics = new Map<StaticAction, StaticFiles>();
  private closed = false;
  /** Settings read from pools' own config, memoised per runtime (a reload builds a new runtime). */
  private readonly derived = new Map<string, UpstreamSettings>();

  /** `traceable`: an admin trace token is configured (the edge's Server-Timing can be asked for). */
  constructor(config: ListenerConfig, pools: UpstreamPools, upstreamSettings: ReadonlyMap<string, UpstreamSettings> | undefined, baseDir: string, filters: FilterHost, dataDir: string, traceable = false) {
    this.baseDir = baseDir;
    this.name = config.name;
    this.router = new Router(config.routes ?? [], config.middleware, { registry: filters.registry, env: filters.env(baseDir, dataDir, config.name) });
    this.scheme = config.protocol === 'https' ? 'https' : 'http';
    const t = config.timeouts;
    this.headerTimeout = t.header;
    this.idleTimeout = t.idle;
    this.bodyTimeout = t.body;
    this.bodyTotalTimeout = t.body_total;
    this.connectTimeout = t.upstream_connect;
    this.responseTimeout = t.upstream_response;
    this.tunnelIdleTimeout = t.tunnel_idle;
    const l = config.limits;
    this.maxHeaderSize = l.max_header_size;
    this.maxBodySize = l.max_body_size;
    this.maxRequestsPerConnection = l.max_requests_per_connection;
    this.bufferingEnabled = config.request_buffering.enabled;
    this.bufferingMemoryMax = config.request_buffering.memory_max;
    const f = config.forwarded;
    this.trusted = new TrustedProxies(f.trusted_proxies);
    this.builtins = buildBuiltins(builtinSettings(config, traceable));
    this.requestIdName = f.request_id === false ? '' : f.request_id.toLowerCase();
    const hsts = config.protocol === 'https' && config.tls !== undefined ? hstsHeaderValue(config.tls) : undefined;
    const altSvc = config.protocol === 'https' ? altSvcHeaderValue(config) : undefined;
    // hide_headers and hsts declare their removals; with HTTP/3 on, the edge's Alt-Svc replaces an
    // upstream's too (an upstream's would advertise the upstream's endpoints)
    const removes = this.builtins.responseRemoves;
    this.hidden = altSvc === undefined || removes.includes('alt-svc') ? removes : [...removes, 'alt-svc'];
    let mask = REQUEST_ALWAYS_DROP;
    const byName: string[] = [];
    for (const name of this.builtins.upstreamRemoves) {
      const kind = KIND_OF[name];
      if (kind !== undefined) mask |= bit(kind);
      else byName.push(name);
    }
    this.requestDropMask = mask;
    this.upstreamDropNames = byName.length > 0 ? byName : null;
    this.pools = pools;
    this.upstreamSettings = upstreamSettings ?? new Map();
    loadUpstreamTls(this.upstreamSettings.values(), baseDir);
    this.accessLog = config.access_log;
    this.responseLines = (hsts === undefined ? '' : `strict-transport-security: ${hsts}\r\n`) + (altSvc === undefined ? '' : `alt-svc: ${altSvc}\r\n`);
    this.closeLines = 'connection: close\r\n' + this.responseLines;
    this.keepAliveLines = 'connection: keep-alive\r\n' + this.responseLines;
    this.upgradeLines = 'connection: upgrade\r\n' + this.responseLines;
  }

  /** The Connection line (or none) for a response head, with responseLines after it. */
  connectionLines(close: boolean, keepAliveHeader: boolean): string {
    return close ? this.closeLines : keepAliveHeader ? this.keepAliveLines : this.responseLines;
  }

  staticFor(action: StaticAction): StaticFiles {
    let files = this.statics.get(action);
    if (files === undefined) {
      files = new StaticFiles({ root: path.resolve(this.baseDir, action.root), index: action.index, cacheControl: action.cacheControl, spaFallback: action.spaFallback, precompressed: action.precompressed, date: this.date });
      this.statics.set(action, files);
      // an exchange that outlived a reload: answered without keeping anything open
      if (this.closed) files.close();
    }
    return files;
  }

  /** This runtime was replaced (reload) or its listener stopped: the static routes' open-file caches let go of their descriptors. */
  close(): void {
    this.closed = true;
    for (const files of this.statics.values()) files.close();
  }

  settingsFor(pool: UpstreamPool): UpstreamSettings {
    let settings = this.upstreamSettings.get(pool.name) ?? this.derived.get(pool.name);
    if (settings === undefined) {
      const config = pool.poolConfig;
      settings = config ? settingsOf(config, pool.name) : DEFAULT_UPSTREAM_SETTINGS;
      loadUpstreamTls([settings], this.baseDir);
      this.derived.set(pool.name, settings);
    }
    return settings;
  }

  /** Shortest configured timeout: how often the listener's sweep must look at deadlines. */
  sweepInterval(): number {
    const shortest = Math.min(this.headerTimeout, this.idleTimeout, this.bodyTimeout, this.bodyTotalTimeout, this.connectTimeout, this.responseTimeout, this.tunnelIdleTimeout);
    return Math.max(10, Math.min(500, Math.floor(shortest / 8)));
  }
}
