// `tls.acme` on an https listener: certificates obtained from an ACME CA (RFC 8555) for `hosts`,
// renewed by the edge itself (docs/acme.md).
import { z } from 'zod';
import { duration } from './common.ts';

const acmeHost = z
  .string()
  .regex(/^(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+\.?$/, { message: 'expected a DNS name with at least two labels, or *.suffix' })
  .transform((host) => host.toLowerCase().replace(/\.$/, ''));

const contact = z
  .string()
  .regex(/^(mailto:)?[^\s@:]+@[^\s@]+$/, { message: 'expected an e-mail address like ops@example.test' })
  .transform((text) => (text.startsWith('mailto:') ? text : `mailto:${text}`));

const redisUrl = z.string().refine((text) => /^rediss?:\/\/[^\s]+$/.test(text), { message: 'expected a Redis URL like redis://127.0.0.1:6379 (or rediss:// for TLS)' });

export const acmeChallengeTypes = ['http-01', 'dns-01', 'tls-alpn-01'] as const;

export const acmeSchema = z
  .strictObject({
    /** The CA's directory URL (RFC 8555 7.1.1), https. */
    directory: z.string().refine((text) => /^https:\/\/[^\s]+$/.test(text), { message: 'expected the https URL of the CA directory' }),
    /** PEM file of CA certificates to trust for the directory's TLS (a private or test CA); the system's otherwise. */
    ca: z.string().min(1).optional(),
    /** Account contact(s), e-mail addresses. */
    contact: z.union([contact, z.array(contact).min(1)]).optional(),
    /** Names of the certificate (all on one certificate); *.suffix needs dns-01. */
    hosts: z.array(acmeHost).min(1).max(100),
    /** Challenge types to use, in order of preference; a wildcard name always uses dns-01. */
    challenges: z.array(z.enum(acmeChallengeTypes)).min(1).default(['http-01', 'dns-01']),
    /**
     * Renew when this much of the certificate's lifetime is left; default a third of it (renewal at two thirds).
     * Mostly for tests against a CA that issues long-lived certificates.
     */
    renew_before: duration.optional(),
    /**
     * Several instances with the same hosts: one orders (Redis lock, SET NX PX) and every instance takes the
     * certificate from Redis.
     */
    redis: redisUrl.optional(),
  })
  .superRefine((acme, ctx) => {
    const wildcard = acme.hosts.find((host) => host.startsWith('*.'));
    if (wildcard !== undefined && !acme.challenges.includes('dns-01')) {
      ctx.addIssue({ code: 'custom', path: ['challenges'], message: `expected dns-01 among the challenges: ${wildcard} is a wildcard, which only dns-01 can prove` });
    }
  });

export type AcmeConfig = z.output<typeof acmeSchema>;
