// Diagnostics behind the CLI (dig, tcping, ping, traceroute, trace): each returns a result object that the
// command prints as text or JSON, and throws DiagError naming the failed layer.
export { DiagError, isDiagError, type DiagLayer } from './errors.ts';
export { parseHostPort, joinHostPort, rttStats, type RttStats, type HostPort } from './format.ts';
export { runDiagnostic } from './cli-output.ts';
export { toRecordType } from './record-types.ts';
export { exchange, buildQuery, type DnsQuery, type DnsExchange } from './dns-client.ts';
export { recordView, recordLine, rdataText, headerFlags, fqdn, type RecordView } from './dns-format.ts';
export { dig, renderDig, serverAddress, type DigOptions, type DigResult } from './dig.ts';
export { digTrace, renderDigTrace, type DigTraceOptions, type DigTraceResult, type TraceStep } from './dig-trace.ts';
export { builtInRootHints, parseRootHints, loadRootHints, type NameServer } from './root-hints.ts';
export { systemNameserver } from './resolv-conf.ts';
export { resolveHost, type ResolvedHost } from './resolve-host.ts';
export { tcping, connectOnce, attemptLine, renderTcpingSummary, type TcpingOptions, type TcpingAttempt, type TcpingResult } from './tcping.ts';
export { loadIcmpAddon, type IcmpAddon, type ProbeResult, type ProbeStatus } from './icmp-addon.ts';
export { ping, pingHeader, probeLine, renderPingSummary, pingFailure, type PingOptions, type PingResult, type PingProbe } from './ping.ts';
export { traceroute, tracerouteHeader, hopLine, renderTraceroute, tracerouteFailure, type TracerouteOptions, type TracerouteResult, type Hop, type HopProbe } from './traceroute.ts';
export { trace, traceFailure, type TraceOptions, type TraceResult, type Phase, type PhaseName } from './trace.ts';
export { renderTrace } from './trace-render.ts';
export { renderWaterfall } from './waterfall.ts';
export { parseServerTiming, parseTraceParent, newTraceParent, formatTraceParent, type ServerTimingEntry, type TraceParent } from './server-timing.ts';
export { resolveForTrace, resolveViaServer, type ResolveOutcome, type DnsStep } from './trace-resolve.ts';
export type { TlsInfo, CertificateInfo } from './trace-tls.ts';
