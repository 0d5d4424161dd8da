// The probe registry. Built-ins register exactly like an added probe would: the HTTP/2 component adds
// `grpc` (grpc.health.v1) with `registry.set('grpc', grpcProbe)`; until then a grpc check is refused when
// its checker is built.
import type { ProbeFactory } from '../types.ts';
import { tcpProbe } from './tcp.ts';
import { httpProbe } from './http.ts';
import { dnsProbe } from './dns.ts';

/** A fresh registry holding the built-in probes (tcp, http, dns). */
export function builtinProbes(): Map<string, ProbeFactory> {
  return new Map<string, ProbeFactory>([
    [tcpProbe.type, tcpProbe],
    [httpProbe.type, httpProbe],
    [dnsProbe.type, dnsProbe],
  ]);
}

export { tcpProbe, httpProbe, dnsProbe };
export { reasonOf } from './reason.ts';
