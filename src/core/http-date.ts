// The Date header of responses the edge makes itself (RFC 9110 §6.6.1: an origin with a clock sends one).
// Formatted at most once per second per owner: a response asks for the current text and gets the cached
// string unless the second has changed, so the per-response cost is one clock read and a comparison.
import { systemClock, type Clock } from './clock.ts';

export class HttpDate {
  readonly #clock: Pick<Clock, 'now'>;
  #second = -1;
  #value = '';
  #line = '';

  constructor(clock: Pick<Clock, 'now'> = systemClock) {
    this.#clock = clock;
  }

  /** IMF-fixdate of now: `Mon, 07 Dec 2026 11:24:53 GMT`. */
  value(): string {
    this.#refresh();
    return this.#value;
  }

  /** `date: <IMF-fixdate>\r\n`, for HTTP/1.1 heads. */
  line(): string {
    this.#refresh();
    return this.#line;
  }

  #refresh(): void {
    const now = this.#clock.now();
    const second = Math.floor(now / 1000);
    if (second === this.#second) return;
    this.#second = second;
    this.#value = new Date(second * 1000).toUTCString();
    this.#line = `date: ${this.#value}\r\n`;
  }
}
