// The handle of a stream whose request filters answer asynchronously: the codec is told to stop
// delivering the body (flow control holds the client), what it already delivered is kept, and once the
// verdict is in the stream either gets the filter's answer or the real upstream handle, which then gets
// the kept body first. An abort before that ends it without an upstream.
import type { ExchangeHandle } from '../l7/index.ts';

export class DeferredHandle implements ExchangeHandle {
  private target: ExchangeHandle | null = null;
  private body: Buffer[] | null = null;
  private bodyEnded = false;
  aborted = false;
  /** Reading ahead: body bytes wanted before `onPrefix` is called (once); 0 when not reading ahead. */
  private prefixWanted = 0;
  private held = 0;
  private onPrefix: ((prefix: Buffer) => void) | null = null;

  /** Calls `onPrefix` with the body's first `limit` bytes (or the whole body, if shorter) once they came. */
  collectPrefix(limit: number, onPrefix: (prefix: Buffer) => void): void {
    this.prefixWanted = limit;
    this.onPrefix = onPrefix;
    this.checkPrefix();
  }

  private checkPrefix(): void {
    if (this.onPrefix === null || (this.held < this.prefixWanted && !this.bodyEnded)) return;
    const onPrefix = this.onPrefix;
    this.onPrefix = null;
    const body = this.body ?? [];
    const joined = body.length === 1 ? body[0] : Buffer.concat(body);
    onPrefix(joined.length > this.prefixWanted ? joined.subarray(0, this.prefixWanted) : joined);
  }

  bodyData(chunk: Buffer): void {
    if (this.target !== null) return this.target.bodyData(chunk);
    // the codec may reuse its buffer after return
    (this.body ??= []).push(Buffer.from(chunk));
    this.held += chunk.length;
    this.checkPrefix();
  }

  bodyEnd(): void {
    if (this.target !== null) return this.target.bodyEnd();
    this.bodyEnded = true;
    this.checkPrefix();
  }

  drain(): void {
    this.target?.drain();
  }

  abort(timedOut?: boolean): void {
    this.aborted = true;
    this.target?.abort(timedOut);
  }

  get backend(): string | undefined {
    return this.target?.backend;
  }

  get tries(): number | undefined {
    return this.target?.tries;
  }

  /** The verdict let the request through: `handle` takes the stream from here, the kept body first. */
  attach(handle: ExchangeHandle): void {
    this.target = handle;
    const body = this.body;
    this.body = null;
    if (body !== null) for (const chunk of body) handle.bodyData(chunk);
    if (this.bodyEnded) handle.bodyEnd();
  }
}
