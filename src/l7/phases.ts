// The phases of a proxied HTTP/1.1 exchange (ARCHITECTURE.md's request phases, as the state machine
// sees them), and the copy helper every module that outlives a read needs.

export const P_ROUTING = 0;
export const P_CONNECTING = 1;
export const P_WAITING = 2;
export const P_RESPONDING = 3;
export const P_TUNNEL = 4;
export const P_DONE = 5;

/** A copy of buf[start, end): bytes in the shared read buffer must be copied before they outlive the read. */
export function copyOf(buf: Buffer, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  buf.copy(out, 0, start, end);
  return out;
}
