// What `switchyard check` says about the DNS section: where it listens, and the limits that stand
// between the internet and the process serving it (rate limiting is on by default beyond loopback).
import type { DnsConfig } from '../config/index.ts';
import { listensBeyondLoopback, STALE_ANSWER_AFTER_DEFAULT } from '../core/index.ts';

export function summarizeDns(config: DnsConfig): string[] {
  const listen = config.listen.map((item) => `${item.transport}://${item.host}:${item.port}`).join(', ');
  const beyondLoopback = listensBeyondLoopback(config.listen);
  const limit = config.rate_limit;
  const rrl = limit
    ? `response rate limiting on: ${limit.responses_per_second} responses/s per /${limit.ipv4_prefix} (IPv6 /${limit.ipv6_prefix}), slip ${limit.slip}${beyondLoopback ? ', listening beyond loopback' : ''}`
    : beyondLoopback
      ? 'response rate limiting OFF (rate_limit: false) although listening beyond loopback: spoofed UDP queries make this server an amplifier'
      : 'response rate limiting off (loopback only; set rate_limit to turn it on)';
  const lines = [`dns: ${config.zones.length} zone(s) on ${listen}${config.resolver ? ', resolver on' : ''}`, `dns: ${rrl}`];
  const tcp = config.tcp;
  if (config.listen.some((item) => item.transport === 'tcp' || item.transport === 'tls')) {
    lines.push(`dns: tcp at most ${tcp.max_connections} connections, ${tcp.max_connections_per_client} per client, ${tcp.max_in_flight} queries in flight each; io timeout ${tcp.io_timeout}ms, idle ${tcp.idle_timeout}ms`);
  }
  const resolver = config.resolver;
  if (resolver) {
    const cache = resolver.cache;
    const stale = cache.serve_stale === undefined ? 'no serve-stale' : `serve-stale ${cache.serve_stale / 1000}s (stale answer after ${cache.stale_answer_after ?? STALE_ANSWER_AFTER_DEFAULT}ms)`;
    const prefetch = cache.prefetch_hits > 0 ? `prefetch after ${cache.prefetch_hits} hits` : 'no prefetch';
    const limit = resolver.client_limit ? `${resolver.client_limit.queries_per_second} queries/s per client (then ${resolver.client_limit.over})` : 'no per-client limit';
    lines.push(`dns: resolver cache at most ${cache.max_entries} entries / ${(cache.max_size / 1024 / 1024).toFixed(0)} MB, ${stale}, ${prefetch}, ${limit}`);
  }
  if (config.tls) {
    const certificates = config.tls.self_signed ? 'a self-signed certificate' : `${config.tls.certificates.length} certificate(s)`;
    lines.push(`dns: tls (DNS over TLS, ALPN dot) on ${config.listen.filter((item) => item.transport === 'tls').map((item) => `tls://${item.host}:${item.port}`).join(', ')} with ${certificates}, ${config.tls.min_version}+`);
  }
  return lines;
}
