// Domain names. Inside the server a name is its uncompressed wire form (length-prefixed labels ending in
// a zero byte); a *key* is that form without the final zero, ASCII-lowercased, as a latin1 string, so a
// Map lookup is the comparison (RFC 4343: case-insensitive for ASCII only) and every suffix that starts at
// a label boundary is again a key (`key.slice(i)`), which is how zones are found by longest suffix.

export const MAX_NAME = 255;
export const MAX_LABEL = 63;

export const ROOT: Buffer = Buffer.from([0]);

export class NameError extends Error {}

/**
 * Presentation form ("www.Example.test.", "a\.b", "\065bc") → wire form. A name without a final dot is
 * relative and gets `origin` appended; without an origin it is an error.
 */
export function nameToWire(text: string, origin?: Buffer): Buffer {
  if (text === '.') return ROOT;
  if (text === '') throw new NameError('empty name');
  const bytes: number[] = [];
  let label: number[] = [];
  let absolute = false;
  const endLabel = (): void => {
    if (label.length === 0) throw new NameError(`empty label in ${JSON.stringify(text)}`);
    if (label.length > MAX_LABEL) throw new NameError(`label longer than 63 bytes in ${JSON.stringify(text)}`);
    bytes.push(label.length, ...label);
    label = [];
  };
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code === 0x2e /* . */) {
      endLabel();
      if (i === text.length - 1) absolute = true;
    } else if (code === 0x5c /* \ */) {
      const digits = /^\d{3}/.exec(text.slice(i + 1, i + 4));
      if (digits) {
        const value = Number(digits[0]);
        if (value > 255) throw new NameError(`escape \\${digits[0]} out of range in ${JSON.stringify(text)}`);
        label.push(value);
        i += 3;
      } else if (i + 1 < text.length) {
        label.push(text.charCodeAt(++i) & 0xff);
      } else {
        throw new NameError(`dangling backslash in ${JSON.stringify(text)}`);
      }
    } else {
      if (code > 0xff) throw new NameError(`non-ASCII character in ${JSON.stringify(text)} (use punycode)`);
      label.push(code);
    }
  }
  if (!absolute) {
    if (label.length > 0) endLabel();
    if (!origin) throw new NameError(`relative name ${JSON.stringify(text)} without an origin`);
    for (const byte of origin) bytes.push(byte);
  } else {
    bytes.push(0);
  }
  if (bytes.length > MAX_NAME) throw new NameError(`name longer than 255 bytes: ${JSON.stringify(text)}`);
  return Buffer.from(bytes);
}

/** Key of a wire name (see the file comment). */
export function keyOf(wire: Uint8Array, start = 0, end = wire.length - 1): string {
  let key = '';
  for (let i = start; i < end; i++) {
    const byte = wire[i];
    key += String.fromCharCode(byte >= 0x41 && byte <= 0x5a ? byte | 0x20 : byte);
  }
  return key;
}

/** The wire form of a key (lowercase). */
export function wireOfKey(key: string): Buffer {
  const wire = Buffer.allocUnsafe(key.length + 1);
  wire.write(key, 0, 'latin1');
  wire[key.length] = 0;
  return wire;
}

/** Wire → presentation form with a final dot, escaping what needs it. */
export function wireToText(wire: Uint8Array, start = 0): string {
  let text = '';
  let i = start;
  while (i < wire.length && wire[i] !== 0) {
    const length = wire[i];
    for (let j = i + 1; j <= i + length; j++) {
      const byte = wire[j];
      if (byte === 0x2e || byte === 0x5c || byte === 0x22 || byte === 0x28 || byte === 0x29 || byte === 0x3b || byte === 0x20 || byte === 0x40 || byte === 0x24) text += `\\${String.fromCharCode(byte)}`;
      else if (byte < 0x21 || byte > 0x7e) text += `\\${String(byte).padStart(3, '0')}`;
      else text += String.fromCharCode(byte);
    }
    text += '.';
    i += length + 1;
  }
  return text === '' ? '.' : text;
}

export function keyToText(key: string): string {
  return wireToText(wireOfKey(key));
}

/** Number of labels in a key. */
export function labelCount(key: string): number {
  let count = 0;
  for (let i = 0; i < key.length; i += key.charCodeAt(i) + 1) count++;
  return count;
}

/** True when `key` equals `suffix` or lies below it. */
export function isSubdomain(key: string, suffix: string): boolean {
  if (suffix === '') return true;
  if (key.length < suffix.length || !key.endsWith(suffix)) return false;
  // the suffix must start at a label boundary of key
  for (let i = 0; i <= key.length - suffix.length; i += key.charCodeAt(i) + 1) {
    if (i === key.length - suffix.length) return true;
  }
  return false;
}

/** Key of the parent name ('' for a single label; undefined for the root). */
export function parentKey(key: string): string | undefined {
  if (key === '') return undefined;
  return key.slice(key.charCodeAt(0) + 1);
}

/**
 * Reads a possibly compressed name at `offset` of a message. Pointers must point strictly backwards (which
 * also rules out loops); lengths are checked. Returns the uncompressed wire form and the offset after the
 * name in the message, or undefined when the name is malformed.
 */
export function readName(message: Uint8Array, offset: number): { wire: Buffer; end: number } | undefined {
  const bytes: number[] = [];
  let position = offset;
  let end = -1;
  let limit = offset; // pointers must go below the start of the name part they came from
  for (let hops = 0; hops < 128; hops++) {
    if (position >= message.length) return undefined;
    const length = message[position];
    if (length === 0) {
      bytes.push(0);
      if (end < 0) end = position + 1;
      if (bytes.length > MAX_NAME) return undefined;
      return { wire: Buffer.from(bytes), end };
    }
    const kind = length & 0xc0;
    if (kind === 0xc0) {
      if (position + 1 >= message.length) return undefined;
      const target = ((length & 0x3f) << 8) | message[position + 1];
      if (end < 0) end = position + 2;
      if (target >= limit) return undefined;
      limit = target;
      position = target;
      continue;
    }
    if (kind !== 0) return undefined;
    if (position + 1 + length > message.length) return undefined;
    bytes.push(length);
    for (let i = position + 1; i <= position + length; i++) bytes.push(message[i]);
    if (bytes.length > MAX_NAME) return undefined;
    position += length + 1;
  }
  return undefined;
}
