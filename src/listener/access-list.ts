// A listener's `access` section as one question: may this client address pass? deny wins; then, when
// there is an allow list, only what it contains. Built per config (a reload builds a new one).
import type { AccessConfig } from '../config/index.ts';
import { CidrSet } from './cidr-set.ts';

export class AccessList {
  private readonly allow: CidrSet | undefined;
  private readonly deny: CidrSet | undefined;

  constructor(access: AccessConfig | undefined) {
    this.allow = access?.allow ? new CidrSet(access.allow) : undefined;
    this.deny = access?.deny ? new CidrSet(access.deny) : undefined;
  }

  permits(client: string): boolean {
    if (this.deny !== undefined && this.deny.contains(client)) return false;
    return this.allow === undefined || this.allow.contains(client);
  }
}
