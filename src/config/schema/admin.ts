// admin: the operator's API, /metrics and dashboard; loopback and a token by default.
import { z } from 'zod';
import { hostPort } from './common.ts';

export const adminSchema = z.strictObject({
  listen: hostPort.default({ host: '127.0.0.1', port: 9090 }),
  /** Token file; generated (random, mode 0600) on first start when missing. Relative to data_dir. */
  token_file: z.string().default('admin.token'),
  /** Listening beyond loopback must be asked for explicitly. */
  allow_remote: z.boolean().default(false),
});

export type AdminConfig = z.output<typeof adminSchema>;
