// One HTTP/3 request stream as the downstream of an L7 exchange: the same ExchangeDownstream the HTTP/2
// codec's streams implement (src/l7 types.ts), so the request goes through the listener's one pipeline —
// router, filters, forwarded headers, pools, retries, access log — and the answer comes back here.
import type { EdgeError } from '../core/index.ts';
import type { ExchangeDownstream, ExchangeHandle } from '../l7/index.ts';
import type { H3Addon, StreamRef } from './addon.ts';

/** HTTP/3 error codes (RFC 9114 §8.1) the frontend resets streams with. */
export const H3_INTERNAL_ERROR = 0x102;
export const H3_REQUEST_REJECTED = 0x10b;
export const H3_MESSAGE_ERROR = 0x10e;

/** Appends the fields that may go to an HTTP/3 client (the HTTP/2 rules: RFC 9114 §4.2 = RFC 9113 §8.2.2). */
export type ResponseFieldsFn = (out: string[], flat: readonly string[], extra?: Readonly<Record<string, string>>) => string[];

export class H3Downstream implements ExchangeDownstream {
  private readonly addon: H3Addon;
  private readonly ref: StreamRef;
  private readonly extra: Readonly<Record<string, string>> | undefined;
  private readonly fields: ResponseFieldsFn;
  handle: ExchangeHandle | undefined;
  /** The exchange is over (end or fail): the stream's close is no abort. */
  done = false;
  private headSent = false;
  private paused = false;
  /** Body chunks that arrived while L7 had paused the body (flow control is held in C meanwhile). */
  private held: Buffer[] | null = null;
  private endHeld = false;
  /** The request ended with its head: no body events follow for L7. */
  readonly headerOnly: boolean;

  constructor(addon: H3Addon, ref: StreamRef, extra: Readonly<Record<string, string>> | undefined, fields: ResponseFieldsFn, headerOnly: boolean) {
    this.addon = addon;
    this.ref = ref;
    this.extra = extra;
    this.fields = fields;
    this.headerOnly = headerOnly;
  }

  sendHead(status: number, headers: string[]): void {
    if (this.headSent) return;
    this.headSent = true;
    this.addon.respond(this.ref, status, this.fields([], headers, this.extra));
  }

  sendData(chunk: Buffer): boolean {
    return this.addon.write(this.ref, chunk);
  }

  end(trailers?: string[]): void {
    this.done = true;
    if (!this.headSent) this.sendHead(502, []);
    const out = trailers && trailers.length > 0 ? this.fields([], trailers) : null;
    this.addon.end(this.ref, out);
  }

  fail(error: EdgeError): void {
    this.done = true;
    if (this.headSent) {
      this.addon.reset(this.ref, H3_INTERNAL_ERROR);
      return;
    }
    this.answer(error.status, `${error.message}\n`);
  }

  /** A complete plain-text answer made here (malformed or oversized requests, exchange failures). */
  answer(status: number, text: string): void {
    this.done = true;
    const body = Buffer.from(text, 'utf8');
    this.headSent = true;
    this.addon.respond(this.ref, status, this.fields([], ['content-type', 'text/plain; charset=utf-8', 'content-length', String(body.length)], this.extra));
    this.addon.write(this.ref, body);
    this.addon.end(this.ref, null);
  }

  pauseBody(): void {
    if (this.paused) return;
    this.paused = true;
    this.addon.pause(this.ref);
  }

  resumeBody(): void {
    if (!this.paused) return;
    this.paused = false;
    const held = this.held;
    this.held = null;
    if (held !== null) {
      for (let i = 0; i < held.length; i++) {
        if (this.done && this.handle === undefined) return;
        this.handle?.bodyData(held[i]);
        if (this.paused) {
          // paused again mid-way: keep the rest
          this.held = held.slice(i + 1);
          return;
        }
      }
    }
    if (this.endHeld) {
      this.endHeld = false;
      this.handle?.bodyEnd();
    }
    // the window held in C opens once L7 took what was held
    this.addon.resume(this.ref);
  }

  // ---- from the addon

  bodyData(chunk: Buffer): void {
    if (this.headerOnly) return;
    if (this.paused) (this.held ??= []).push(chunk);
    else this.handle?.bodyData(chunk);
  }

  bodyEnd(): void {
    if (this.headerOnly) return;
    if (this.paused) this.endHeld = true;
    else this.handle?.bodyEnd();
  }

  drained(): void {
    this.handle?.drain();
  }

  /** The stream is gone (answered, reset by the client, connection closed): an exchange still running is aborted. */
  closed(): void {
    this.held = null;
    if (!this.done) {
      this.done = true;
      this.handle?.abort();
    }
  }
}
