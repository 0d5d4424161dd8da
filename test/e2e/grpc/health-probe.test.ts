// The grpc health probe (grpc.health.v1.Health/Check) against a @grpc/grpc-js server that implements the
// standard health service, and against servers that do not.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { healthSchema } from '../../../src/config/index.ts';
import { grpcProbe } from '../../../src/h2/index.ts';
import { refusedPort } from '../../support/origins.ts';
import { startGrpcBackend, type GrpcBackend } from './grpc-backend.ts';

const statuses: Record<string, string> = { '': 'SERVING', users: 'NOT_SERVING' };

describe('grpc health probe', () => {
  let server: grpc.Server;
  let port: number;
  let plain: GrpcBackend;

  before(async () => {
    const definition = protoLoader.loadSync(path.join(import.meta.dirname, 'health.proto'), { keepCase: true, enums: String });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: { Health: { service: grpc.ServiceDefinition } } } } };
    server = new grpc.Server();
    server.addService(pkg.grpc.health.v1.Health.service, {
      Check: (call: grpc.ServerUnaryCall<{ service: string }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        const status = statuses[call.request.service ?? ''];
        if (status === undefined) return callback({ code: grpc.status.NOT_FOUND, details: 'unknown service' } as grpc.ServiceError);
        callback(null, { status });
      },
    });
    port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
    plain = await startGrpcBackend('no-health');
  });

  after(async () => {
    server?.forceShutdown();
    await plain?.close();
  });

  const check = (targetPort: number, config: object = {}) =>
    grpcProbe.create(healthSchema.parse({ type: 'grpc', ...config })).check({ id: `127.0.0.1:${targetPort}`, host: '127.0.0.1', port: targetPort }, AbortSignal.timeout(3000));

  it('is healthy when the server answers SERVING', async () => {
    assert.deepEqual(await check(port), { ok: true, reason: 'serving' });
  });

  it('asks about the configured service and is unhealthy when it is NOT_SERVING', async () => {
    assert.deepEqual(await check(port, { service: 'users' }), { ok: false, reason: 'not serving' });
    assert.deepEqual(await check(port, { service: 'nope' }), { ok: false, reason: 'grpc status 5' });
  });

  it('is unhealthy when the server has no health service or is down', async () => {
    assert.deepEqual(await check(plain.port), { ok: false, reason: 'grpc status 12' });
    assert.deepEqual(await check(await refusedPort()), { ok: false, reason: 'connection refused' });
  });
});
