// A load-time screen for regular expressions that can backtrack catastrophically (ReDoS) on input a
// client chooses. V8's engine backtracks; the exponential cases come from a repeated group that itself
// repeats or offers overlapping alternatives: (a+)+, (\w*)*, (a|a)+, (x+x+)+. This refuses any unbounded
// repetition (*, +, {n,}) of a group holding a repetition or an alternation. It is conservative (it also
// refuses harmless forms like (get|post)+) and does not catch polynomial cases such as \s*\s*$ on long
// input; the filter bounds the input it matches (paths and headers are bounded by the listener's limits).

interface Group {
  /** Holds a quantifier (its own or a nested group's). */
  repeats: boolean;
  /** Holds `|` at its own level. */
  alternates: boolean;
}

/** The length of an unbounded quantifier at `i` (*, +, {n,}), 0 for a bounded one or none. */
function unboundedQuantifier(source: string, i: number): number {
  const c = source[i];
  if (c === '*' || c === '+') return 1;
  if (c === '{') {
    const match = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
    if (match !== null && match[2] !== undefined && match[3] === '') return match[0].length;
  }
  return 0;
}

function isQuantifier(source: string, i: number): boolean {
  const c = source[i];
  return c === '*' || c === '+' || c === '?' || (c === '{' && /^\{\d+(,\d*)?\}/.test(source.slice(i)));
}

/** Why `source` is refused, or undefined when it passes the screen. */
export function regexHazard(source: string): string | undefined {
  const stack: Group[] = [{ repeats: false, alternates: false }];
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
      if (isQuantifier(source, i + 1)) stack[stack.length - 1].repeats = true;
      continue;
    }
    if (c === '[') {
      // a character class is one atom: skip to its closing bracket
      i++;
      if (source[i] === '^') i++;
      if (source[i] === ']') i++;
      while (i < source.length && source[i] !== ']') i += source[i] === '\\' ? 2 : 1;
      if (isQuantifier(source, i + 1)) stack[stack.length - 1].repeats = true;
      continue;
    }
    if (c === '(') {
      stack.push({ repeats: false, alternates: false });
      continue;
    }
    if (c === '|') {
      stack[stack.length - 1].alternates = true;
      continue;
    }
    if (c === ')') {
      const group = stack.length > 1 ? stack.pop()! : { repeats: false, alternates: false };
      const parent = stack[stack.length - 1];
      if (unboundedQuantifier(source, i + 1) > 0) {
        if (group.repeats) return `a repeated group holds a repetition near offset ${i}`;
        if (group.alternates) return `a repeated group holds alternatives near offset ${i}`;
      }
      if (group.repeats || isQuantifier(source, i + 1)) parent.repeats = true;
      continue;
    }
    if (isQuantifier(source, i + 1) && c !== '*' && c !== '+' && c !== '?' && c !== '}') stack[stack.length - 1].repeats = true;
  }
  return undefined;
}
