// The `grpc` health probe: grpc.health.v1.Health/Check over HTTP/2 cleartext (h2c), as gRPC servers
// implement it. Healthy when the call ends with grpc-status 0 and the reply says SERVING. The two protobuf
// messages are one string field and one enum field, so they are encoded and read by hand here rather than
// loading a protobuf runtime into the primary process.
import http2, { constants } from 'node:http2';
import type { HealthConfig } from '../config/index.ts';
import { reasonOf, type HealthProbe, type ProbeFactory, type ProbeResult, type ProbeTarget } from '../health/index.ts';

const servingStatus = ['unknown', 'serving', 'not serving', 'service unknown'];

/** gRPC length-prefixed message of HealthCheckRequest { string service = 1; }. */
export function healthCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const message = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]);
  const frame = Buffer.alloc(5);
  frame.writeUInt32BE(message.length, 1);
  return Buffer.concat([frame, message]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  while (value > 0x7f) {
    bytes.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  bytes.push(value);
  return Buffer.from(bytes);
}

/** ServingStatus of a HealthCheckResponse body (after the 5-byte gRPC prefix); 0 when absent. */
export function servingStatusOf(body: Buffer): number {
  if (body.length < 5) return 0;
  const message = body.subarray(5, 5 + body.readUInt32BE(1));
  for (let i = 0; i < message.length; ) {
    const key = message[i++];
    if (key === 0x08) {
      let value = 0;
      let shift = 0;
      while (i < message.length) {
        const byte = message[i++];
        value |= (byte & 0x7f) << shift;
        if ((byte & 0x80) === 0) return value;
        shift += 7;
      }
      return 0;
    }
    if ((key & 7) === 0) while (i < message.length && message[i++] & 0x80);
    else if ((key & 7) === 2) i += message[i] + 1;
    else return 0;
  }
  return 0;
}

class GrpcHealthProbe implements HealthProbe {
  private readonly request: Buffer;
  private readonly authority: string | undefined;

  constructor(config: HealthConfig) {
    this.request = healthCheckRequest(config.service ?? '');
    this.authority = config.host;
  }

  check(target: ProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve({ ok: false, reason: 'aborted' });
      const host = target.host.includes(':') ? `[${target.host}]` : target.host;
      const session = http2.connect(`http://${host}:${target.port}`);
      let settled = false;
      const done = (result: ProbeResult) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        session.destroy();
        resolve(result);
      };
      const onAbort = () => done({ ok: false, reason: 'aborted' });
      signal.addEventListener('abort', onAbort, { once: true });
      session.on('error', (err) => done({ ok: false, reason: reasonOf(err) }));
      const stream = session.request({
        ':method': 'POST',
        ':path': '/grpc.health.v1.Health/Check',
        ':authority': this.authority ?? `${host}:${target.port}`,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const chunks: Buffer[] = [];
      let grpcStatus: string | undefined;
      let httpStatus = 0;
      // a stream cancelled because its session failed carries the session's error (refused, reset) as cause
      stream.on('error', (err) => done({ ok: false, reason: reasonOf((err as { cause?: unknown }).cause ?? err) }));
      stream.on('response', (headers) => {
        httpStatus = Number(headers[':status']);
        if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']);
      });
      stream.on('trailers', (trailers) => (grpcStatus = String(trailers['grpc-status'])));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (httpStatus !== 200) return done({ ok: false, reason: `status ${httpStatus}` });
        if (grpcStatus !== '0') return done({ ok: false, reason: `grpc status ${grpcStatus ?? 'missing'}` });
        const serving = servingStatusOf(Buffer.concat(chunks));
        done({ ok: serving === 1, reason: servingStatus[serving] ?? `serving status ${serving}` });
      });
      stream.on('close', () => {
        if (stream.rstCode !== constants.NGHTTP2_NO_ERROR) done({ ok: false, reason: 'stream reset' });
      });
      stream.end(this.request);
    });
  }
}

/** Register with the health component's probe registry: `probes.set(grpcProbe.type, grpcProbe)`. */
export const grpcProbe = {
  type: 'grpc',
  create: (config: HealthConfig): HealthProbe => new GrpcHealthProbe(config),
} satisfies ProbeFactory;
