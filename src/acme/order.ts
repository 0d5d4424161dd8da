// One issuance (RFC 8555 7.4): newOrder for the names, one challenge per pending authorization (a
// wildcard name: dns-01; otherwise the first of the configured types the CA offers), the answers
// published to the traffic planes and only then announced to the CA, the authorizations polled until
// valid, finalize with a CSR of a fresh key, the order polled until valid, and the chain downloaded.
// The challenges are withdrawn whatever happens.
import { createHash } from 'node:crypto';
import type { Clock, Logger } from '../core/index.ts';
import { EdgeError } from '../core/index.ts';
import type { AcmeClient } from './client.ts';
import type { ChallengeSet } from './challenge-board.ts';
import { alpnChallengeCertificate, keyAndCsr } from './x509.ts';

export type ChallengeType = 'http-01' | 'dns-01' | 'tls-alpn-01';

interface Challenge {
  type: string;
  url: string;
  token: string;
  status: string;
  error?: { type?: string; detail?: string };
}

interface Authorization {
  status: string;
  identifier: { type: string; value: string };
  wildcard?: boolean;
  challenges: Challenge[];
}

interface Order {
  status: string;
  authorizations: string[];
  finalize: string;
  certificate?: string;
  error?: { type?: string; detail?: string };
}

/** Where the answers go: the control plane publishes them to every traffic plane and resolves once they have them. */
export interface ChallengePublisher {
  add(owner: string, set: ChallengeSet): Promise<void>;
  remove(owner: string): Promise<void>;
}

export interface IssueRequest {
  /** Names the challenges under (the listener's name). */
  owner: string;
  hosts: readonly string[];
  challenges: readonly ChallengeType[];
  contact: readonly string[];
}

export interface Issued {
  certPem: string;
  keyPem: string;
}

const base64url = (bytes: Buffer): string => bytes.toString('base64url');

/** The dns-01 TXT value for a key authorization (RFC 8555 8.4). */
export function dnsChallengeValue(keyAuthorization: string): string {
  return base64url(createHash('sha256').update(keyAuthorization).digest());
}

export interface OrderDeps {
  client: AcmeClient;
  publisher: ChallengePublisher;
  logger: Logger;
  clock: Clock;
  /** How long authorizations and the order may stay pending or processing. */
  timeoutMs?: number;
}

function problemText(error: { type?: string; detail?: string } | undefined): string {
  if (error === undefined) return 'no reason given';
  return `${(error.type ?? '').replace('urn:ietf:params:acme:error:', '')}: ${error.detail ?? ''}`;
}

export async function issueCertificate(request: IssueRequest, deps: OrderDeps): Promise<Issued> {
  const { client, publisher, logger, clock } = deps;
  const timeoutMs = deps.timeoutMs ?? 120_000;
  const wait = (ms: number) => new Promise<void>((resolve) => clock.setTimeout(resolve, ms));
  /** Polls `url` until `done` says so; honours Retry-After within [250 ms, 5 s]. */
  const poll = async <T>(url: string, done: (body: T) => boolean): Promise<T> => {
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      const response = await client.post<T>(url, undefined);
      if (done(response.body)) return response.body;
      if (clock.now() > deadline) throw new EdgeError('SY_ERR_ACME_TIMEOUT', `acme: ${url} still pending after ${timeoutMs} ms`, { source: 'upstream', retry: 'retryable' });
      await wait(Math.min(5_000, Math.max(250, (response.retryAfter ?? 0) * 1000)));
    }
  };

  await client.account(request.contact);
  const thumbprint = await client.thumbprint();
  const created = await client.post<Order>((await client.getDirectory()).newOrder, { identifiers: request.hosts.map((value) => ({ type: 'dns', value })) });
  const orderUrl = created.location;
  if (orderUrl === undefined) throw new EdgeError('SY_ERR_ACME_ORDER', 'acme: newOrder answered without a Location', { source: 'upstream', retry: 'retryable' });
  let order = created.body;

  const chosen: { authorization: string; challenge: Challenge; name: string }[] = [];
  const set: ChallengeSet = { http: [], dns: [], tls: [] };
  for (const url of order.authorizations) {
    const authorization = (await client.post<Authorization>(url, undefined)).body;
    if (authorization.status === 'valid') continue;
    const name = authorization.identifier.value;
    const wildcard = authorization.wildcard === true;
    const types: readonly string[] = wildcard ? ['dns-01'] : request.challenges;
    const challenge = types.map((type) => authorization.challenges.find((offered) => offered.type === type)).find((found) => found !== undefined);
    if (challenge === undefined) {
      throw new EdgeError('SY_ERR_ACME_CHALLENGE', `acme: ${wildcard ? '*.' : ''}${name}: the CA offers ${authorization.challenges.map((one) => one.type).join(', ')}, none of ${types.join(', ')}`, { source: 'upstream', retry: 'final' });
    }
    const keyAuthorization = `${challenge.token}.${thumbprint}`;
    if (challenge.type === 'http-01') set.http.push([challenge.token, keyAuthorization]);
    else if (challenge.type === 'tls-alpn-01') {
      const { certPem, keyPem } = await alpnChallengeCertificate(name, keyAuthorization, clock.now());
      set.tls!.push([name, certPem, keyPem]);
    } else set.dns.push([`_acme-challenge.${name}`, dnsChallengeValue(keyAuthorization)]);
    chosen.push({ authorization: url, challenge, name: `${wildcard ? '*.' : ''}${name}` });
  }

  try {
    if (chosen.length > 0) {
      await publisher.add(request.owner, set);
      logger.info({ listener: request.owner, challenges: chosen.map((one) => `${one.name} ${one.challenge.type}`) }, `acme ${request.owner}: answering ${chosen.length} challenge(s)`);
      // the CA validates only after this POST: the answers are in place in every traffic plane by now
      await Promise.all(chosen.map((one) => client.post(one.challenge.url, {})));
      await Promise.all(
        chosen.map(async (one) => {
          const final = await poll<Authorization>(one.authorization, (body) => body.status !== 'pending');
          if (final.status !== 'valid') {
            const failed = final.challenges.find((challenge) => challenge.url === one.challenge.url);
            throw new EdgeError('SY_ERR_ACME_CHALLENGE', `acme: ${one.name} ${one.challenge.type}: authorization ${final.status}: ${problemText(failed?.error)}`, { source: 'upstream', retry: 'retryable' });
          }
        }),
      );
    }
  } finally {
    await publisher.remove(request.owner);
  }

  order = await poll<Order>(orderUrl, (body) => body.status !== 'pending');
  if (order.status !== 'ready') throw new EdgeError('SY_ERR_ACME_ORDER', `acme: order ${order.status}: ${problemText(order.error)}`, { source: 'upstream', retry: 'retryable' });
  const { keyPem, csrDer } = await keyAndCsr(request.hosts);
  await client.post<Order>(order.finalize, { csr: base64url(csrDer) });
  order = await poll<Order>(orderUrl, (body) => body.status !== 'processing' && body.status !== 'ready');
  if (order.status !== 'valid' || order.certificate === undefined) throw new EdgeError('SY_ERR_ACME_ORDER', `acme: order ${order.status} after finalize: ${problemText(order.error)}`, { source: 'upstream', retry: 'retryable' });
  const certPem = await client.downloadCertificate(order.certificate);
  if (!certPem.includes('-----BEGIN CERTIFICATE-----')) throw new EdgeError('SY_ERR_ACME_ORDER', 'acme: the certificate URL gave no PEM chain', { source: 'upstream', retry: 'retryable' });
  return { certPem, keyPem };
}
