// The `types` list compiled once: exact media types in a set, `type/*` as prefixes, `type/*+suffix` as
// prefix-and-suffix pairs. Answers are remembered per Content-Type value (bounded), so the steady state
// neither slices nor lower-cases.
export class MediaTypeMatcher {
  private readonly exact = new Set<string>();
  private readonly prefixes: string[] = [];
  private readonly suffixed: (readonly [string, string])[] = [];
  private readonly answers = new Map<string, boolean>();

  constructor(types: readonly string[]) {
    for (const type of types) {
      const star = type.indexOf('*');
      if (star === -1) this.exact.add(type);
      else if (star === type.length - 1) this.prefixes.push(type.slice(0, star));
      else this.suffixed.push([type.slice(0, star), type.slice(star + 1)]);
    }
  }

  matches(contentType: string): boolean {
    const known = this.answers.get(contentType);
    if (known !== undefined) return known;
    const semi = contentType.indexOf(';');
    const type = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
    let answer = this.exact.has(type);
    for (let i = 0; !answer && i < this.prefixes.length; i++) answer = type.startsWith(this.prefixes[i]);
    for (let i = 0; !answer && i < this.suffixed.length; i++) {
      const [prefix, suffix] = this.suffixed[i];
      answer = type.length > prefix.length + suffix.length && type.startsWith(prefix) && type.endsWith(suffix);
    }
    if (this.answers.size >= 256) this.answers.clear();
    this.answers.set(contentType, answer);
    return answer;
  }
}
