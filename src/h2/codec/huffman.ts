// HPACK's Huffman code (RFC 7541 §5.2, Appendix B). The code is canonical — codes of one length are
// consecutive and follow symbol order — so the bit length of each symbol is all the spec data needed:
// the codes are rebuilt from it at start-up (huffman.test.ts checks the RFC's examples).
//
// Decoding reads four bits at a time through a table of the code tree's internal nodes (at most one
// symbol per nibble: the shortest code has 5 bits), instead of walking the tree bit by bit.

/** Bit length of the code of symbols 0…255, then EOS (256). */
const codeLengths = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];
const EOS = 256;

/** Canonical codes from the lengths: shorter codes first, symbols in order within a length. */
function canonicalCodes(lengths: readonly number[]): number[] {
  const order = lengths.map((length, symbol) => ({ length, symbol })).sort((a, b) => a.length - b.length || a.symbol - b.symbol);
  const codes = new Array<number>(lengths.length);
  let code = 0;
  let length = order[0].length;
  for (const entry of order) {
    code *= 2 ** (entry.length - length);
    length = entry.length;
    codes[entry.symbol] = code;
    code++;
  }
  return codes;
}

export const huffmanCodes: readonly number[] = canonicalCodes(codeLengths);
export const huffmanLengths: readonly number[] = codeLengths;

// Decoding table: for internal node n and nibble x, entry [n * 16 + x] packs the node reached (bits 0–7),
// the symbol emitted on the way (bits 8–16, 0x1ff: none), FAIL (EOS reached, bit 17) and ACCEPT (bit 18:
// the node is reached from the root by fewer than 8 one-bits, so the string may end there — RFC 7541 §5.2
// padding).
const NO_SYMBOL = 0x1ff;
const FAIL = 1 << 17;
const ACCEPT = 1 << 18;

function buildDecodeTable(): Int32Array {
  // the tree as arrays of children: child[node * 2 + bit] = node id, or -(symbol + 1) for a leaf
  const child: number[] = [0, 0];
  let nodes = 1;
  for (let symbol = 0; symbol <= EOS; symbol++) {
    const length = codeLengths[symbol];
    const code = huffmanCodes[symbol];
    let node = 0;
    for (let i = length - 1; i >= 0; i--) {
      const bit = Math.floor(code / 2 ** i) & 1;
      const slot = node * 2 + bit;
      if (i === 0) child[slot] = -(symbol + 1);
      else {
        if (child[slot] === 0) {
          child[slot] = nodes++;
          child.push(0, 0);
        }
        node = child[slot];
      }
    }
  }
  // which nodes a valid string may end on: all-ones paths from the root shorter than 8 bits
  const accepting = new Set<number>([0]);
  for (let node = 0, depth = 1; depth < 8; depth++) {
    node = child[node * 2 + 1];
    if (node <= 0) break;
    accepting.add(node);
  }
  const table = new Int32Array(nodes * 16);
  for (let node = 0; node < nodes; node++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let at = node;
      let symbol = NO_SYMBOL;
      let fail = false;
      for (let i = 3; i >= 0; i--) {
        const next = child[at * 2 + ((nibble >> i) & 1)];
        if (next < 0) {
          if (-next - 1 === EOS) fail = true;
          symbol = -next - 1;
          at = 0;
        } else at = next;
      }
      table[node * 16 + nibble] = at | (symbol << 8) | (fail ? FAIL : 0) | (accepting.has(at) ? ACCEPT : 0);
    }
  }
  return table;
}

const decodeTable = buildDecodeTable();

/**
 * Decodes buf[start, end) into latin1 text; null when the string is not valid HPACK Huffman (EOS inside,
 * or padding that is not a prefix of EOS or is 8 bits or longer).
 */
export function huffmanDecode(buf: Uint8Array, start: number, end: number): string | null {
  // symbols are bytes: collected as char codes, then one string (no per-symbol concatenation)
  const out = scratch.length >= (end - start) * 2 ? scratch : (scratch = new Uint8Array((end - start) * 2));
  let n = 0;
  let state = 0;
  let accept = true;
  for (let i = start; i < end; i++) {
    const byte = buf[i];
    for (let shift = 4; shift >= 0; shift -= 4) {
      const entry = decodeTable[state * 16 + ((byte >> shift) & 15)];
      if ((entry & FAIL) !== 0) return null;
      const symbol = (entry >> 8) & 0x1ff;
      if (symbol !== NO_SYMBOL) out[n++] = symbol;
      state = entry & 0xff;
      accept = (entry & ACCEPT) !== 0;
    }
  }
  if (!accept) return null;
  return Buffer.from(out.buffer, out.byteOffset, n).toString('latin1');
}
let scratch = new Uint8Array(256);

/** Huffman-encodes latin1 text (used by tests and by encoders that choose to). */
export function huffmanEncode(text: string): Buffer {
  let bits = 0;
  for (let i = 0; i < text.length; i++) bits += codeLengths[text.charCodeAt(i) & 0xff];
  const out = Buffer.alloc(Math.ceil(bits / 8), 0xff);
  let bit = 0;
  for (let i = 0; i < text.length; i++) {
    const symbol = text.charCodeAt(i) & 0xff;
    const code = huffmanCodes[symbol];
    for (let k = codeLengths[symbol] - 1; k >= 0; k--, bit++) {
      const set = Math.floor(code / 2 ** k) & 1;
      const byteIndex = bit >> 3;
      const mask = 0x80 >> (bit & 7);
      out[byteIndex] = set ? out[byteIndex] | mask : out[byteIndex] & ~mask;
    }
  }
  return out;
}
