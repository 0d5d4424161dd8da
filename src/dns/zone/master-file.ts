// RFC 1035 section 5 master files: $ORIGIN, $TTL, @, relative names, omitted owners (the previous one),
// omitted TTL/class, parentheses across lines, ; comments, quoted strings and \X / \DDD escapes, and
// BIND's 1h30m TTLs. $INCLUDE and $GENERATE are refused (a zone is one file, so a reload reads one file).
import { RRClass, typeCode } from '../wire/constants.ts';
import { NameError, nameToWire } from '../wire/name.ts';
import type { ResourceRecord } from '../wire/writer.ts';
import { encodeRdata, parseTtl, RdataError, type Token } from './rdata.ts';

export interface ZoneRecord extends ResourceRecord {
  /** Where it was written (`file:line`), for error messages about the record. */
  readonly source: string;
}

/** A problem in a master file; the message starts with `file:line:`. */
export class MasterFileError extends Error {}

interface Entry {
  line: number;
  /** The line started with blank space: the owner is the previous record's. */
  inheritsOwner: boolean;
  tokens: Token[];
}

/**
 * Parses master-file text into records. `origin` is the zone origin (the initial $ORIGIN); `defaultTtl`
 * applies to records without a TTL when no $TTL precedes them.
 */
export function parseMasterFile(text: string, file: string, origin: Buffer, defaultTtl: number): ZoneRecord[] {
  const records: ZoneRecord[] = [];
  let currentOrigin = origin;
  let ttl = defaultTtl;
  let previousOwner: Buffer | undefined;
  for (const entry of tokenize(text, file)) {
    const where = `${file}:${entry.line}`;
    const fail = (message: string): never => {
      throw new MasterFileError(`${where}: ${message}`);
    };
    try {
      const tokens = entry.tokens;
      const first = tokens[0];
      if (!entry.inheritsOwner && !first.quoted && first.raw.startsWith('$')) {
        const directive = first.raw.toUpperCase();
        if (directive === '$ORIGIN') {
          if (tokens.length !== 2) fail('expected $ORIGIN <name>');
          currentOrigin = nameToWire(tokens[1].raw, currentOrigin);
        } else if (directive === '$TTL') {
          const value = tokens.length === 2 ? parseTtl(tokens[1].raw) : undefined;
          if (value === undefined) fail(`expected $TTL <seconds>, got ${JSON.stringify(tokens.slice(1).map((token) => token.raw).join(' '))}`);
          ttl = value!;
        } else {
          fail(`unsupported directive ${first.raw} (supported: $ORIGIN, $TTL)`);
        }
        continue;
      }
      let index = 0;
      let owner: Buffer;
      if (entry.inheritsOwner) {
        if (!previousOwner) fail('expected an owner name on the first record');
        owner = previousOwner!;
      } else {
        owner = first.raw === '@' ? currentOrigin : nameToWire(first.raw, currentOrigin);
        index = 1;
      }
      let recordTtl: number | undefined;
      let type: number | undefined;
      for (let fields = 0; fields < 3 && index < tokens.length && type === undefined; fields++) {
        const token = tokens[index++].raw;
        const asTtl = recordTtl === undefined ? parseTtl(token) : undefined;
        if (asTtl !== undefined) recordTtl = asTtl;
        else if (/^(IN|CH|HS|CLASS\d+)$/i.test(token)) {
          if (token.toUpperCase() !== 'IN') fail(`expected class IN, got ${token}`);
        } else {
          type = typeCode(token);
          if (type === undefined) fail(`unknown record type ${JSON.stringify(token)}`);
        }
      }
      if (type === undefined) fail('expected a record type');
      const rdata = encodeRdata(type!, tokens.slice(index), currentOrigin);
      previousOwner = owner;
      records.push({ owner, type: type!, class: RRClass.IN, ttl: recordTtl ?? ttl, rdata, source: where });
    } catch (err) {
      if (err instanceof MasterFileError) throw err;
      if (err instanceof NameError || err instanceof RdataError) fail((err as Error).message);
      throw err;
    }
  }
  return records;
}

/** Splits text into entries (one record or directive each), honouring parentheses, quotes and comments. */
function tokenize(text: string, file: string): Entry[] {
  const entries: Entry[] = [];
  let line = 1;
  let depth = 0;
  let current: Entry | undefined;
  let openLine = 0;
  let i = 0;
  const push = (token: Token, tokenLine: number, atLineStart: boolean): void => {
    if (!current) current = { line: tokenLine, inheritsOwner: !atLineStart, tokens: [] };
    current.tokens.push(token);
  };
  const endEntry = (): void => {
    if (current && current.tokens.length > 0) entries.push(current);
    current = undefined;
  };
  let lineStart = true;
  while (i < text.length) {
    const char = text[i];
    if (char === '\n') {
      line++;
      i++;
      lineStart = true;
      if (depth === 0) endEntry();
      continue;
    }
    if (char === ' ' || char === '\t' || char === '\r') {
      i++;
      lineStart = false;
      continue;
    }
    if (char === ';') {
      while (i < text.length && text[i] !== '\n') i++;
      continue;
    }
    if (char === '(') {
      if (depth === 0) openLine = line;
      depth++;
      i++;
      lineStart = false;
      if (!current) current = { line, inheritsOwner: true, tokens: [] };
      continue;
    }
    if (char === ')') {
      if (depth === 0) throw new MasterFileError(`${file}:${line}: unbalanced )`);
      depth--;
      i++;
      lineStart = false;
      continue;
    }
    const atLineStart = lineStart && depth === 0;
    lineStart = false;
    if (char === '"') {
      let raw = '';
      const startLine = line;
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\' && i + 1 < text.length) {
          raw += text[i] + text[i + 1];
          i += 2;
          continue;
        }
        if (text[i] === '\n') line++;
        raw += text[i++];
      }
      if (i >= text.length) throw new MasterFileError(`${file}:${startLine}: unterminated quoted string`);
      i++;
      push({ raw, quoted: true }, startLine, atLineStart);
      continue;
    }
    let raw = '';
    while (i < text.length && !' \t\r\n;()"'.includes(text[i])) {
      if (text[i] === '\\' && i + 1 < text.length) {
        raw += text[i] + text[i + 1];
        i += 2;
        continue;
      }
      raw += text[i++];
    }
    push({ raw, quoted: false }, line, atLineStart);
  }
  if (depth !== 0) throw new MasterFileError(`${file}:${openLine}: unbalanced ( (opened here)`);
  endEntry();
  return entries;
}
