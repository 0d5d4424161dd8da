// Human output of `switchyard trace`: like curl -v (connection facts on "*" lines, request ">" and
// response "<" headers), then the waterfall.
import type { TraceResult } from './trace.ts';
import { renderWaterfall } from './waterfall.ts';

export function renderTrace(result: TraceResult): string {
  const lines: string[] = [`* trace ${result.method} ${result.url}`, `* traceparent ${result.traceparent} (trace id ${result.traceId})`];
  const dns = result.dns;
  const dnsPhase = result.phases.find((phase) => phase.name === 'dns');
  const took = dnsPhase ? ` in ${dnsPhase.durationMs.toFixed(2)}ms` : '';
  if (dns.via === 'literal') lines.push(`* DNS: ${dns.address} is an address, nothing to resolve`);
  else if (dns.via === 'override') lines.push(`* DNS: ${dns.address} from --resolve`);
  else if (dns.via === 'system') lines.push(`* DNS: ${dns.address} from the system resolver${took}`);
  else {
    lines.push(`* DNS: ${dns.address} from ${dns.server}${took} (${dns.queries} quer${dns.queries === 1 ? 'y' : 'ies'})`);
    for (const step of dns.chain) lines.push(`*   ${step.name} ${step.ttl} IN ${step.type} ${step.data}`);
  }
  lines.push(`* TCP: connected to ${result.connect.address} port ${result.connect.port} from ${result.connect.local}`);
  const tls = result.tls;
  if (tls) {
    lines.push(`* TLS: ${tls.version} ${tls.cipher}, ALPN ${tls.alpn || '(none)'}${tls.servername ? `, SNI ${tls.servername}` : ''}`);
    const cert = tls.certificate;
    if (cert) {
      lines.push(`*   subject: ${cert.subject}`, `*   issuer: ${cert.issuer}`);
      if (cert.subjectAltName) lines.push(`*   names: ${cert.subjectAltName}`);
      lines.push(`*   expires: ${cert.validTo} (${cert.daysLeft} days left)`);
    }
    lines.push(tls.verified ? '*   verified: certificate chain and host name OK' : `*   NOT VERIFIED (--insecure): ${tls.verifyError}`);
  }
  lines.push(`> ${result.method} ${result.request.target} HTTP/1.1`);
  for (const [name, value] of result.request.headers) lines.push(`> ${name}: ${value}`);
  const response = result.response;
  lines.push(`< HTTP/${response.httpVersion} ${response.status} ${response.statusText}`.trimEnd());
  for (const [name, value] of response.headers) lines.push(`< ${name}: ${value}`);
  lines.push(`* body: ${response.bodyBytes} bytes`);
  if (result.traceHeaders.length > 0) {
    lines.push(`* trace headers from the server${result.traceIdEchoed ? ' (carry our trace id)' : ' (do not carry our trace id)'}:`);
    for (const [name, value] of result.traceHeaders) lines.push(`*   ${name}: ${value}`);
  }
  lines.push('', ...renderWaterfall(result.phases, result.serverTiming, result.totalMs), '');
  return lines.join('\n');
}
