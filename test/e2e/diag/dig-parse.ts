// Reads dig-style output (Debian's dig and ours share the layout): status, flags and the record sections,
// each record split into whitespace-separated fields so column alignment does not matter.
export interface DigText {
  status: string;
  flags: string[];
  answer: string[][];
  authority: string[][];
  additional: string[][];
}

export function parseDigText(text: string): DigText {
  const status = /status: (\w+)/.exec(text)?.[1] ?? '';
  const flags = (/;; flags: ([^;]*);/.exec(text)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).sort();
  const section = (title: string): string[][] => {
    const lines = text.split('\n');
    const start = lines.findIndex((line) => line.startsWith(`;; ${title} SECTION:`));
    if (start < 0) return [];
    const records: string[][] = [];
    for (const line of lines.slice(start + 1)) {
      if (!line.trim() || line.startsWith(';')) break;
      records.push(line.trim().split(/\s+/));
    }
    return records;
  };
  return { status, flags, answer: section('ANSWER'), authority: section('AUTHORITY'), additional: section('ADDITIONAL') };
}
