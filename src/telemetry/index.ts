// Telemetry: spans of finished HTTP requests exported over OTLP/HTTP JSON (docs/operations.md, Telemetry).
// Contract: the traffic plane owns one SpanExporter, hands it to its listeners as their access-record sink
// (src/l7 AccessRecordSink), configures it on start and every reload, and stops it with the plane.
export { SpanExporter, type SpanExporterDeps, type TelemetryStatus } from './exporter.ts';
export { encodeExport, unixNano } from './otlp-json.ts';
export { sampledTrace, sampleThreshold } from './sampler.ts';
export { RecentRequests, RecordSinks, mergeRecent, statusMatches, type RecentQuery, type RecentRequest, type RecentRequestsOptions, type KeptBecause } from './recent-requests.ts';
