// http: an HTTP/1.1 request on a fresh connection (no agent, `Connection: close`, so a probe never rides a
// keep-alive socket the backend already gave up on); passes when the status is in `expect` and, with
// `body_contains`, the first 64 KiB of the body contain that text. Host defaults to the backend's host:port.
// A pool with `tls:` is probed over TLS with its CA, SNI and verification, as the proxy connects to it: a
// backend whose certificate the proxy would refuse is down.
import type { RequestOptions } from 'node:http';
import type * as HttpsModule from 'node:https';
import type { HealthConfig } from '../../config/index.ts';
import type { UpstreamTlsClient } from '../../tls/index.ts';
import { compileExpect, type StatusMatcher } from '../expect.ts';
import type { HealthProbe, ProbeContext, ProbeFactory, ProbeResult, ProbeTarget } from '../types.ts';
import { reasonOf } from './reason.ts';
import { nodeHttp } from '../../core/index.ts';

const maxBody = 64 * 1024;

class HttpProbe implements HealthProbe {
  private readonly config: HealthConfig;
  private readonly expect: StatusMatcher;
  private readonly tls: UpstreamTlsClient | undefined;

  constructor(config: HealthConfig, context: ProbeContext | undefined) {
    this.config = config;
    this.expect = compileExpect(config.expect);
    this.tls = context?.tls;
  }

  async check(target: ProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
    const tls = this.tls;
    if (tls?.pending) await new Promise<void>((loaded) => tls.whenLoaded(loaded));
    if (tls?.error !== undefined) return { ok: false, reason: tls.error.message };
    // node:https (and node:tls) only for TLS pools
    return this.request(target, signal, tls === undefined ? undefined : await import('node:https'));
  }

  private request(target: ProbeTarget, signal: AbortSignal, https: typeof HttpsModule | undefined): Promise<ProbeResult> {
    const { method, path, host, body_contains: needle } = this.config;
    const tls = this.tls;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve({ ok: false, reason: 'aborted' });
      let settled = false;
      const done = (result: ProbeResult) => {
        if (settled) return;
        settled = true;
        request.destroy();
        resolve(result);
      };
      const options: RequestOptions = {
        host: target.host,
        port: target.port,
        method,
        path,
        agent: false,
        signal,
        headers: { host: host ?? target.id, 'user-agent': 'switchyard-health-check', connection: 'close' },
      };
      // servername '' (an IP backend without tls.servername): no SNI, as the proxy sends; https would take the Host header's
      const request = tls === undefined || https === undefined ? nodeHttp.request(options) : https.request({ ...tls.connectOptions(target.host, target.port, undefined), servername: tls.servernameFor(target.host) ?? '', ...options });
      request.on('error', (err) => done({ ok: false, reason: signal.aborted ? 'aborted' : reasonOf(err) }));
      request.once('response', (response) => {
        const status = response.statusCode ?? 0;
        if (!this.expect(status)) return done({ ok: false, reason: `status ${status}` });
        if (needle === undefined) return done({ ok: true, reason: `status ${status}` });
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
          if (body.includes(needle)) done({ ok: true, reason: `status ${status}` });
          else if (body.length >= maxBody) done({ ok: false, reason: 'body mismatch' });
        });
        response.once('end', () => done(body.includes(needle) ? { ok: true, reason: `status ${status}` } : { ok: false, reason: 'body mismatch' }));
        response.on('error', (err) => done({ ok: false, reason: reasonOf(err) }));
      });
      request.end();
    });
  }
}

export const httpProbe = {
  type: 'http',
  create: (config: HealthConfig, context?: ProbeContext): HealthProbe => new HttpProbe(config, context),
} satisfies ProbeFactory;
