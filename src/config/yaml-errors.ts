// Where a YAML syntax error is, in terms a person fixes: the yaml library's error range often starts at
// the whitespace, blank lines or comments before the token it trips on (an indentation error under a
// mapping is reported at the blank line above the misplaced key), so the position is moved to that token;
// for a mapping or sequence whose items do not line up, the message names where its first item is, and an
// unclosed string or bracket is reported where it opens, not at the end of the file.
import { Parser, type CST, type LineCounter, type YAMLError } from 'yaml';

/** Offset of the first character at or after `offset` that is neither whitespace nor part of a comment. */
function tokenStart(text: string, offset: number): number {
  let index = offset;
  while (index < text.length) {
    const char = text[index];
    if (char === ' ' || char === '\t' || char === '\n' || char === '\r') index++;
    else if (char === '#' && (index === 0 || /\s/.test(text[index - 1]))) {
      const end = text.indexOf('\n', index);
      index = end < 0 ? text.length : end;
    } else return index;
  }
  return offset;
}

type Collection = CST.BlockMap | CST.BlockSequence;

function itemOffset(item: Collection['items'][number]): number | undefined {
  const key = (item as { key?: CST.Token | null }).key;
  if (key && 'offset' in key) return key.offset;
  return item.start.find((token) => token.type === 'seq-item-ind')?.offset;
}

/** The block collection that holds an item starting at `offset` (depth-first through the CST). */
function collectionWithItemAt(token: CST.Token | null | undefined, offset: number): Collection | undefined {
  if (!token) return undefined;
  if (token.type === 'document') return collectionWithItemAt(token.value, offset);
  if (token.type !== 'block-map' && token.type !== 'block-seq') return undefined;
  for (const item of token.items) {
    if (itemOffset(item) === offset) return token;
    const inner = collectionWithItemAt(item.value, offset);
    if (inner) return inner;
  }
  return undefined;
}

interface Unclosed {
  offset: number;
  what: string;
}

/** The innermost quoted string or flow collection that opens before `offset` and is never closed. */
function unclosedBefore(token: unknown, offset: number): Unclosed | undefined {
  if (!token || typeof token !== 'object') return undefined;
  if (Array.isArray(token)) {
    let found: Unclosed | undefined;
    for (const item of token) found = unclosedBefore(item, offset) ?? found;
    return found;
  }
  const node = token as { type?: string; offset?: number; source?: string; start?: unknown; end?: { type: string }[]; items?: unknown; key?: unknown; sep?: unknown; value?: unknown };
  let own: Unclosed | undefined;
  if (node.offset !== undefined && node.offset < offset) {
    const source = node.source ?? '';
    if (node.type === 'double-quoted-scalar' && !/(^|[^\\])(\\\\)*"$/.test(source.slice(1))) own = { offset: node.offset, what: 'the string opened with "' };
    if (node.type === 'single-quoted-scalar' && (source.length < 2 || !source.endsWith("'"))) own = { offset: node.offset, what: "the string opened with '" };
    if (node.type === 'flow-collection' && !node.end?.some((end) => end.type === 'flow-map-end' || end.type === 'flow-seq-end')) {
      own = { offset: node.offset, what: `the ${(node.start as { source?: string } | undefined)?.source ?? 'bracket'} opened` };
    }
  }
  const inner = unclosedBefore([node.start, node.items, node.key, node.sep, node.value], offset);
  return inner ?? own;
}

/** " (key p is already at line 2)": which key is repeated and where it first appeared, when it is in a block mapping. */
function duplicateNote(documents: CST.Token[], text: string, offset: number, lineCounter: LineCounter): string {
  const key = /^("[^"]*"|'[^']*'|[^\s:,{}[\]]+)/.exec(text.slice(offset))?.[1];
  if (key === undefined) return '';
  const collection = documents.map((document) => collectionWithItemAt(document, offset)).find((found) => found !== undefined);
  const first = collection?.items.map(itemOffset).find((at) => at !== undefined && at < offset && text.startsWith(key, at) && /^[\s:]/.test(text.charAt(at + key.length)));
  return first === undefined ? ` (key ${key})` : ` (key ${key} is already at line ${lineCounter.linePos(first).line})`;
}

export function yamlErrorMessages(text: string, errors: readonly YAMLError[], lineCounter: LineCounter, file: string): string[] {
  let documents: CST.Token[] | undefined;
  const seen = new Set<string>();
  const messages: string[] = [];
  for (const error of errors) {
    // A tab used as indentation is itself the error: point at it, not at the key after it.
    let offset = error.code === 'TAB_AS_INDENT' ? error.pos[0] : tokenStart(text, error.pos[0]);
    let note = '';
    documents ??= [...new Parser().parse(text)];
    if (error.code === 'MISSING_CHAR' || /must be sufficiently indented and end with/.test(error.message)) {
      // An unclosed string or bracket is noticed where the text ends or the block resumes: name the opener.
      const unclosed = unclosedBefore(documents, offset + 1);
      if (unclosed) {
        const noticed = text.slice(offset).trim() === '' ? 'at the end of the file' : `at line ${lineCounter.linePos(offset).line}`;
        note = ` (${unclosed.what} here is not closed; the parser noticed ${noticed})`;
        offset = unclosed.offset;
      }
    }
    const { line, col } = lineCounter.linePos(offset);
    let message = `${file}:${line}:${col}: yaml: ${error.message.split('\n')[0]}${note}`;
    if (error.code === 'BAD_INDENT' || error.code === 'BLOCK_AS_IMPLICIT_KEY') {
      const collection = documents.map((document) => collectionWithItemAt(document, offset)).find((found) => found !== undefined);
      const first = collection ? itemOffset(collection.items[0]) : undefined;
      if (first !== undefined && first !== offset) {
        const start = lineCounter.linePos(first);
        message += ` (this item is at column ${col}; the first item of its block, line ${start.line}, is at column ${start.col})`;
      }
    }
    if (error.code === 'TAB_AS_INDENT') message += ' (indent with spaces)';
    if (error.code === 'DUPLICATE_KEY') message += duplicateNote(documents, text, offset, lineCounter);
    // One broken line can make the parser trip on every following token: one message per line is enough.
    if (seen.has(`${line}`)) continue;
    seen.add(`${line}`);
    messages.push(message);
    if (messages.length === 10) {
      messages.push(`${file}: yaml: further errors not shown (fix the first ones: they often cause the rest)`);
      break;
    }
  }
  return messages;
}
