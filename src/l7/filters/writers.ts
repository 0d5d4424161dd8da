// HeaderWriter over each path's head representation: header lines being appended to (the HTTP/1.1 heads,
// which keep the client's or upstream's own lines as byte runs and drop names while copying), and flat
// [name, value, …] lists (the HTTP/2 paths). Built only for a route whose filters edit that head.
import type { HeaderWriter } from './types.ts';

/**
 * Lines ("name: value\r\n", lower-case names) added to a head whose other fields are copied from parsed bytes: removals
 * strike the added lines now and are kept in `dropped` for the copy to skip (rewrite.ts).
 */
export class LineWriter implements HeaderWriter {
  lines: string;
  dropped: string[] | null = null;

  constructor(lines: string) {
    this.lines = lines;
  }

  /** Starts over on `lines` (a path reuses one writer for every head it builds, one at a time). */
  reset(lines: string): void {
    this.lines = lines;
    this.dropped = null;
  }

  set(name: string, value: string): void {
    this.remove(name);
    this.add(name, value);
  }

  add(name: string, value: string): void {
    this.lines += `${name}: ${value}\r\n`;
  }

  remove(name: string): void {
    const dropped = (this.dropped ??= []);
    if (!dropped.includes(name)) dropped.push(name);
    this.lines = withoutField(this.lines, name);
  }
}

/**
 * `lines` without the lines of field `name`. Every path's lines carry lower-case names (the edge writes its
 * own so, HTTP/2 fields are lower-case), so a name that does not occur at all — the common case — costs one
 * search and no allocation.
 */
export function withoutField(lines: string, name: string): string {
  if (lines.indexOf(name) < 0) return lines;
  let out = '';
  let at = 0;
  while (at < lines.length) {
    let end = lines.indexOf('\r\n', at);
    end = end < 0 ? lines.length : end + 2;
    if (!(lines.startsWith(name, at) && lines.charCodeAt(at + name.length) === 0x3a)) out += lines.slice(at, end);
    at = end;
  }
  return out;
}

/** A flat [name, value, …] list with lower-case names, edited in place. */
export class FlatWriter implements HeaderWriter {
  readonly fields: string[];

  constructor(fields: string[]) {
    this.fields = fields;
  }

  set(name: string, value: string): void {
    this.remove(name);
    this.fields.push(name, value);
  }

  add(name: string, value: string): void {
    this.fields.push(name, value);
  }

  remove(name: string): void {
    const fields = this.fields;
    let w = 0;
    for (let i = 0; i < fields.length; i += 2) {
      if (fields[i] === name) continue;
      fields[w++] = fields[i];
      fields[w++] = fields[i + 1];
    }
    fields.length = w;
  }
}

/** A record of single values (node:http2 header objects), edited in place. */
export class RecordWriter implements HeaderWriter {
  readonly fields: Record<string, string | string[] | number | undefined>;

  constructor(fields: Record<string, string | string[] | number | undefined>) {
    this.fields = fields;
  }

  set(name: string, value: string): void {
    this.fields[name] = value;
  }

  add(name: string, value: string): void {
    const previous = this.fields[name];
    this.fields[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [String(previous)]), value];
  }

  remove(name: string): void {
    delete this.fields[name];
  }
}
