// What the resource handlers are built from: passed in once at start, never module state.
import type { Repository } from '../db/index.ts';
import type { TokenService } from '../auth/tokens.ts';

export interface Services {
  repository: Repository;
  tokens: TokenService;
  /** This instance's name, e.g. users-1 (also sent as X-Instance). */
  instance: string;
  service: string;
  healthTimeoutMs: number;
}
