// The connection filters of a udp listener: a datagram has no connection and no PROXY header to read, so
// only `access` (deny, then allow) applies, on the datagram's source address. The udp listener asks when a
// client flow starts and re-asks for every open flow after a reload, so a datagram from a known flow costs
// no lookup; CidrSet memoises the answers for sources that keep being refused.
import type { ListenerConfig } from '../config/index.ts';
import { AccessList } from './access-list.ts';

export interface DatagramGateStatus {
  /** Datagrams dropped because their source is denied (or not allowed). */
  refused_access: number;
}

export class DatagramGate {
  private access: AccessList;
  private refusedAccess = 0;

  constructor(config: ListenerConfig) {
    this.access = new AccessList(config.access);
  }

  /** Reload: the next question meets the new lists. */
  update(config: ListenerConfig): void {
    this.access = new AccessList(config.access);
  }

  /** Whether a datagram from `source` may pass; a refusal is counted. */
  admit(source: string): boolean {
    if (this.permits(source)) return true;
    this.refusedAccess++;
    return false;
  }

  /** The same question without counting (re-screening open flows after a reload). */
  permits(source: string): boolean {
    return this.access.permits(source);
  }

  status(): DatagramGateStatus {
    return { refused_access: this.refusedAccess };
  }
}
