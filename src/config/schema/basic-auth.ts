// `basic_auth`: HTTP Basic authentication against a file of hashed passwords (read at load by the filter).
import { z } from 'zod';

export const basicAuthFilterSchema = z.strictObject({
  /** An htpasswd-style file, `user:hash` per line, bcrypt ($2y$/$2b$/$2a$) or scrypt ($scrypt$…) hashes; relative to the config file. */
  users_file: z.string().min(1, { message: 'expected the path of a users file (user:bcrypt-hash lines)' }),
  /** The realm named in WWW-Authenticate (no double quotes or backslashes). */
  realm: z
    .string()
    .regex(/^[\x20-\x7e]{1,128}$/, { message: 'expected a realm of printable ASCII (at most 128 characters)' })
    .refine((text) => !/["\\]/.test(text), { message: 'expected a realm without " or \\' })
    .default('restricted'),
  /** Pass the client's Authorization header upstream (default: removed once verified). */
  forward: z.boolean().default(false),
});
