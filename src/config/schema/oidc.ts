// `oidc`: the edge logs browser users in with the OpenID Connect authorization code flow (PKCE) against
// one issuer and keeps the result in an encrypted session cookie. Files (client secret, cookie key) are
// read on first use, not at load: `check` and `explain` build filters without touching them.
import { z } from 'zod';
import { duration } from './common.ts';

const tokenName = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const cookieName = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

/** A local absolute path the filter answers itself: no query, no fragment, no `//` (it would read as a host). */
const localPath = z.string().regex(/^\/(?![/\\])[^?#\s;\\]*$/, 'expected an absolute path starting with a single / (no query, spaces, ; or \\)');

/** The issuer: https, or http on a loopback host only (a test or a provider on the same machine). */
const issuerUrl = z.string().transform((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: `expected the issuer URL, got ${JSON.stringify(text)}` });
    return z.NEVER;
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopbackHosts.has(url.hostname))) {
    ctx.addIssue({ code: 'custom', message: `expected an https issuer (http only on a loopback host), got ${text}` });
    return z.NEVER;
  }
  if (url.search !== '' || url.hash !== '') {
    ctx.addIssue({ code: 'custom', message: `expected an issuer without query or fragment, got ${text}` });
    return z.NEVER;
  }
  // the issuer identifier is compared as a string with the provider's: kept exactly as written
  return text;
});

/** claim → header: which claims of the ID token go upstream, under which header names. */
const forwardClaims = z.record(z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'expected a claim name'), z.string()).superRefine((claims, ctx) => {
  for (const [claim, header] of Object.entries(claims)) {
    const name = header.toLowerCase();
    if (!tokenName.test(name)) ctx.addIssue({ code: 'custom', path: [claim], message: `expected a header name (token characters), got ${JSON.stringify(header)}` });
    else if (['cookie', 'authorization', 'host', 'connection', 'content-length', 'transfer-encoding', 'te', 'upgrade', 'trailer', 'keep-alive', 'proxy-connection', 'http2-settings'].includes(name)) {
      ctx.addIssue({ code: 'custom', path: [claim], message: `expected a header the edge does not own, got ${name}` });
    }
  }
});

export const oidcFilterSchema = z
  .strictObject({
    /** The issuer identifier; its metadata is read from <issuer>/.well-known/openid-configuration. */
    issuer: issuerUrl,
    client_id: z.string().min(1),
    /** A file holding the client secret (client_secret_basic); absent: a public client (PKCE only). */
    client_secret_file: z.string().min(1).optional(),
    /** A file of at least 32 bytes: the key material the session and state cookies are encrypted with. */
    cookie_secret_file: z.string().min(1),
    /** The callback the provider redirects to; answered by the filter itself. */
    redirect_path: localPath.default('/oauth2/callback'),
    /** Clears the session (and ends it at the provider when it has an end_session_endpoint). */
    logout_path: localPath.default('/oauth2/logout'),
    /** Where the browser lands after logout (a local path). */
    post_logout_redirect: localPath.default('/'),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'expected a scope token')).min(1).default(['openid', 'profile', 'email']).refine((scopes) => scopes.includes('openid'), { message: 'expected scopes to include openid' }),
    /** The session cookie's name; the login state cookie is this name with `_state`. */
    cookie: z.string().regex(cookieName, 'expected a cookie name (token characters)').default('sy_oidc'),
    /** Secure attribute: `auto` sets it on https listeners. */
    secure: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    /** Longest a session lives, refreshes included; then the user logs in again. */
    session_max_age: duration.default(43_200_000),
    /** Refresh the tokens this long before they expire (when the provider gave a refresh token). */
    refresh_before: duration.default(60_000),
    forward_claims: forwardClaims.default({}),
    /** Also send the session cookie upstream (default: removed from Cookie). */
    forward_cookie: z.boolean().default(false),
    /** Pass the client's own Authorization header upstream (default: removed). */
    forward_authorization: z.boolean().default(false),
    /** Path prefixes answered 401 instead of redirected to the provider when not logged in. */
    api_paths: z.array(localPath).default([]),
    /** Timeout of each call to the provider (discovery, keys, token endpoint). */
    timeout: duration.default(5_000),
    /** A PEM file of CA certificates trusted for the issuer (a private CA), in addition to the system's. */
    ca_file: z.string().min(1).optional(),
  })
  .superRefine((settings, ctx) => {
    const paths = [settings.redirect_path, settings.logout_path];
    if (paths[0] === paths[1]) ctx.addIssue({ code: 'custom', path: ['logout_path'], message: 'expected logout_path to differ from redirect_path' });
    if (settings.refresh_before >= settings.session_max_age) ctx.addIssue({ code: 'custom', path: ['refresh_before'], message: 'expected refresh_before shorter than session_max_age' });
  });
