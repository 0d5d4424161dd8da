// The balancer's view of an L4 connection or udp flow: only the client address exists, so ip_hash and
// consistent_hash (hash_key: ip) hash on it and header/cookie keys find nothing.
import type { BalanceInput } from '../pool/index.ts';

export class ClientBalanceInput implements BalanceInput {
  readonly clientAddress: string;
  readonly path = '';
  constructor(clientAddress: string) {
    this.clientAddress = clientAddress;
  }
  header(): undefined {
    return undefined;
  }
  cookie(): undefined {
    return undefined;
  }
}
