// Head sampling, decided once per request when it finishes and before it is queued. A continued trace
// follows the client's sampled flag (the caller upstream already decided for the whole trace); a trace
// the edge started is kept when the low 32 bits of its id fall under `ratio`: the id is random, so every
// worker (and every other edge with the same ratio) decides the same for the same trace.

function hexDigit(c: number): number {
  return c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57;
}

/** `ratio` 0..1 as the threshold sampledTrace compares with (ratio 1 keeps every id). */
export function sampleThreshold(ratio: number): number {
  return Math.floor(ratio * 0x1_0000_0000);
}

/** Request path: no allocation. `continued`: the trace came from the client, whose `flags` decide. */
export function sampledTrace(traceId: string, continued: boolean, flags: string, threshold: number): boolean {
  if (continued) return (hexDigit(flags.charCodeAt(1)) & 1) === 1;
  if (traceId.length !== 32) return false;
  let low = 0;
  for (let i = 24; i < 32; i++) low = low * 16 + hexDigit(traceId.charCodeAt(i));
  return low < threshold;
}
