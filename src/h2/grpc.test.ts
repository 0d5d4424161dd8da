import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../core/index.ts';
import { encodeGrpcMessage, formatGrpcTimeout, grpcCodeForHttp, isGrpc, parseGrpcTimeout } from './grpc.ts';
import { healthCheckRequest, servingStatusOf } from './grpc-health-probe.ts';
import { ResetCounter } from './reset-guard.ts';

describe('grpc helpers', () => {
  it('parses grpc-timeout in every unit and refuses malformed values', () => {
    assert.equal(parseGrpcTimeout('100m'), 100);
    assert.equal(parseGrpcTimeout('2S'), 2000);
    assert.equal(parseGrpcTimeout('1M'), 60_000);
    assert.equal(parseGrpcTimeout('1H'), 3_600_000);
    assert.equal(parseGrpcTimeout('5000u'), 5);
    assert.equal(parseGrpcTimeout('123456789S'), undefined, 'at most 8 digits');
    assert.equal(parseGrpcTimeout('10'), undefined);
    assert.equal(parseGrpcTimeout(undefined), undefined);
    assert.equal(formatGrpcTimeout(12.2), '13m');
    assert.equal(formatGrpcTimeout(-5), '1m');
  });

  it('recognises gRPC content types and encodes grpc-message', () => {
    assert.equal(isGrpc('application/grpc'), true);
    assert.equal(isGrpc('application/grpc+proto'), true);
    assert.equal(isGrpc('application/json'), false);
    assert.equal(encodeGrpcMessage('no backend: 100% down'), 'no backend%3A 100%25 down');
  });

  it('maps HTTP statuses the proxy raises to gRPC codes', () => {
    assert.equal(grpcCodeForHttp(503), 14);
    assert.equal(grpcCodeForHttp(404), 12);
    assert.equal(grpcCodeForHttp(500), 2);
  });

  it('encodes HealthCheckRequest and reads HealthCheckResponse', () => {
    assert.deepEqual([...healthCheckRequest('')], [0, 0, 0, 0, 0]);
    assert.deepEqual([...healthCheckRequest('ab')], [0, 0, 0, 0, 4, 0x0a, 2, 0x61, 0x62]);
    assert.equal(servingStatusOf(Buffer.from([0, 0, 0, 0, 2, 0x08, 1])), 1);
    assert.equal(servingStatusOf(Buffer.from([0, 0, 0, 0, 0])), 0);
  });
});

describe('ResetCounter', () => {
  it('allows the limit per second and trips above it; a new second starts afresh', () => {
    const clock = new FakeClock();
    const counter = new ResetCounter(3, clock);
    assert.deepEqual([counter.hit(), counter.hit(), counter.hit(), counter.hit()], [false, false, false, true]);
    clock.advance(1000);
    assert.equal(counter.hit(), false);
  });
});
