// `forward_auth` (nginx auth_request, Traefik ForwardAuth): a subrequest to an auth service decides
// whether a request goes on; headers of its answer are copied into the upstream request.
import { z } from 'zod';
import { duration, size } from './common.ts';
import { headerName } from './header-fields.ts';

export const forwardAuthFilterSchema = z
  .strictObject({
  /** The auth service (http:// or https://); path and query are kept. */
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL of the auth service' }),
  /** The subrequest's method. */
  method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
  /** Request fields copied into the subrequest (besides the X-Forwarded-* ones the edge sets). */
  request_headers: z.array(headerName).default(['authorization', 'cookie']),
  /** Fields of a 2xx answer copied into the upstream request (the client's own fields of those names are dropped). */
  copy_headers: z.array(headerName).default([]),
  /** How long the auth service may take (connect to end of answer); past it the client gets 503. */
  timeout: duration.default(5_000),
  /** A refusal's body larger than this is not relayed (the client gets the status with a short body). */
  max_body_size: size.default(65_536),
  /** PEM CA certificates trusted for an https:// url (default: the system's). */
  ca_file: z.string().min(1).optional(),
  /** Concurrent connections to the auth service per process. */
  max_connections: z.number().int().min(1).max(4096).default(64),
  })
  .refine((settings) => settings.ca_file === undefined || settings.url.startsWith('https:'), { path: ['ca_file'], message: 'expected ca_file only with an https:// url' });
