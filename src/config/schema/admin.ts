// admin: the operator's API, /metrics and dashboard; loopback and a token by default.
import { z } from 'zod';
import { hostPort } from './common.ts';

/** HTTPS for the admin API: a certificate and its key (PEM files, relative to the config file), as in a listener's certificates. */
export const adminTlsSchema = z.strictObject({
  cert: z.string(),
  key: z.string(),
  min_version: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
});

export const adminSchema = z.strictObject({
  /** Loopback unless allow_remote is true. */
  listen: hostPort.default({ host: '127.0.0.1', port: 9090 }),
  /**
   * Token file, relative to data_dir; generated (32 random bytes as hex, mode 0600) on first start when
   * missing. An existing file must be readable by its owner only and hold at least 32 bytes.
   */
  token_file: z.string().default('admin.token'),
  /** A non-loopback listen address must be asked for explicitly, and then needs tls. */
  allow_remote: z.boolean().default(false),
  tls: adminTlsSchema.optional(),
});

export type AdminConfig = z.output<typeof adminSchema>;
export type AdminTlsConfig = z.output<typeof adminTlsSchema>;
