// Accept-Encoding negotiation (RFC 9110 §12.5.3): the offered coding with the highest q-value wins, a tie
// goes to the server's order; q=0 refuses a coding, `*` stands for every coding not named. A header that
// does not parse leaves the response as it is (identity), never a 4xx: proxies and old clients send odd ones.
import type { CompressEncoding } from '../../../config/index.ts';

/** The index into `offered` of the coding to use, or -1 for identity. */
export function negotiate(header: string, offered: readonly CompressEncoding[]): number {
  const weights = weigh(header, offered);
  if (weights === null) return -1;
  let best = -1;
  let bestQ = 0;
  for (let i = 0; i < offered.length; i++) {
    if (weights[i] > bestQ) {
      best = i;
      bestQ = weights[i];
    }
  }
  return best;
}

/** Every acceptable index into `offered`, best first (q descending, then the server's order). */
export function acceptable(header: string, offered: readonly CompressEncoding[]): number[] {
  const weights = weigh(header, offered);
  if (weights === null) return [];
  const indices: number[] = [];
  for (let i = 0; i < offered.length; i++) if (weights[i] > 0) indices.push(i);
  // sort is stable: equal q keeps the server's order
  return indices.sort((a, b) => weights[b] - weights[a]);
}

/** The q of each offered coding (0 when not acceptable), or null when the header does not parse. */
function weigh(header: string, offered: readonly CompressEncoding[]): number[] | null {
  const q = new Array<number>(offered.length).fill(-1);
  let star = -1;
  let start = 0;
  while (start <= header.length) {
    let end = header.indexOf(',', start);
    if (end === -1) end = header.length;
    const item = header.slice(start, end).trim();
    start = end + 1;
    if (item === '') continue;
    const semi = item.indexOf(';');
    const coding = (semi === -1 ? item : item.slice(0, semi)).trim().toLowerCase();
    if (!/^[!#$%&'*+\-.^_`|~0-9a-z]+$/.test(coding)) return null;
    let weight = 1;
    if (semi !== -1) {
      const parsed = qValue(item.slice(semi + 1));
      if (parsed === undefined) return null;
      weight = parsed;
    }
    if (coding === '*') star = weight;
    else {
      const index = offered.indexOf((coding === 'x-gzip' ? 'gzip' : coding) as CompressEncoding);
      if (index !== -1) q[index] = weight;
    }
  }
  for (let i = 0; i < offered.length; i++) if (q[i] === -1) q[i] = Math.max(star, 0);
  return q;
}

/** The q of `;q=0.5` parameters (other parameters are ignored); undefined when malformed. */
function qValue(params: string): number | undefined {
  let weight = 1;
  for (const param of params.split(';')) {
    const eq = param.indexOf('=');
    if (eq === -1) return param.trim() === '' ? weight : undefined;
    if (param.slice(0, eq).trim().toLowerCase() !== 'q') continue;
    const value = param.slice(eq + 1).trim();
    if (!/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value)) return undefined;
    weight = Number(value);
  }
  return weight;
}

/**
 * Remembers the answer per header value: clients send a handful of distinct Accept-Encoding strings, so
 * the steady state parses nothing. Bounded: past `limit` distinct values it starts over.
 */
export class NegotiationCache {
  private readonly answers = new Map<string, number>();
  private readonly offered: readonly CompressEncoding[];
  private readonly limit: number;

  constructor(offered: readonly CompressEncoding[], limit = 256) {
    this.offered = offered;
    this.limit = limit;
  }

  choose(header: string): number {
    const known = this.answers.get(header);
    if (known !== undefined) return known;
    const answer = negotiate(header, this.offered);
    if (this.answers.size >= this.limit) this.answers.clear();
    this.answers.set(header, answer);
    return answer;
  }
}
