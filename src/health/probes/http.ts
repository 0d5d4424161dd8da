// http: an HTTP/1.1 request on a fresh connection (no agent, `Connection: close`, so a probe never rides a
// keep-alive socket the backend already gave up on); passes when the status is in `expect` and, with
// `body_contains`, the first 64 KiB of the body contain that text. Host defaults to the backend's host:port.
import http from 'node:http';
import type { HealthConfig } from '../../config/index.ts';
import { compileExpect, type StatusMatcher } from '../expect.ts';
import type { HealthProbe, ProbeFactory, ProbeResult, ProbeTarget } from '../types.ts';
import { reasonOf } from './reason.ts';

const maxBody = 64 * 1024;

class HttpProbe implements HealthProbe {
  private readonly config: HealthConfig;
  private readonly expect: StatusMatcher;

  constructor(config: HealthConfig) {
    this.config = config;
    this.expect = compileExpect(config.expect);
  }

  check(target: ProbeTarget, signal: AbortSignal): Promise<ProbeResult> {
    const { method, path, host, body_contains: needle } = this.config;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve({ ok: false, reason: 'aborted' });
      let settled = false;
      const done = (result: ProbeResult) => {
        if (settled) return;
        settled = true;
        request.destroy();
        resolve(result);
      };
      const request = http.request({
        host: target.host,
        port: target.port,
        method,
        path,
        agent: false,
        signal,
        headers: { host: host ?? target.id, 'user-agent': 'switchyard-health-check', connection: 'close' },
      });
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
  create: (config: HealthConfig): HealthProbe => new HttpProbe(config),
} satisfies ProbeFactory;
