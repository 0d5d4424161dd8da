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

  bodyData(chunk: Buffer): void {
    if (this.target !== null) return this.target.bodyData(chunk);
    // the codec may reuse its buffer after return
    (this.body ??= []).push(Buffer.from(chunk));
  }

  bodyEnd(): void {
    if (this.target !== null) return this.target.bodyEnd();
    this.bodyEnded = true;
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
