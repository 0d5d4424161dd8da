// What `switchyard check` says about the DNS section: where it listens, and the limits that stand
// between the internet and the process serving it (rate limiting is on by default beyond loopback).
import { listensBeyondLoopback, type DnsConfig } from '../config/index.ts';

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
  if (config.listen.some((item) => item.transport === 'tcp')) {
    lines.push(`dns: tcp at most ${tcp.max_connections} connections, ${tcp.max_connections_per_client} per client, ${tcp.max_in_flight} queries in flight each; io timeout ${tcp.io_timeout}ms, idle ${tcp.idle_timeout}ms`);
  }
  return lines;
}
