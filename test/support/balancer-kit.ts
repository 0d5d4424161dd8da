// Helpers shared by the balancer tests: real PoolBackend objects and a filter like the pool's.
import { PoolBackend } from '../../src/pool/backend.ts';
import type { BalanceInput, Backend, PickFilter } from '../../src/pool/types.ts';

export function backends(...weights: number[]): PoolBackend[] {
  return weights.map((weight, index) => new PoolBackend('127.0.0.1', 3001 + index, weight));
}

export function input(clientAddress: string, extra: { path?: string; headers?: Record<string, string>; cookies?: Record<string, string> } = {}): BalanceInput {
  return {
    clientAddress,
    path: extra.path ?? '/',
    header: (name) => extra.headers?.[name],
    cookie: (name) => extra.cookies?.[name],
  };
}

export class TestFilter implements PickFilter {
  now = 1_000_000;
  tried = new Set<string>();
  usable(backend: Backend): boolean {
    return (backend as PoolBackend).available && !this.tried.has(backend.id);
  }
}

export function setAvailable(backend: PoolBackend, available: boolean): void {
  backend.healthy = available;
  backend.refresh(0);
}

/** Client addresses 10.0.x.y, distinct for i < 65536. */
export function address(i: number): string {
  return `10.0.${(i >> 8) & 255}.${i & 255}`;
}
