// Durations and sizes as users write them in config ("500ms", "2s", "1m", "16kb", "10mb").
// Parsed once at config load; the data path only sees numbers (milliseconds, bytes).

const durationUnits: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const sizeUnits: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

const durationPattern = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;
const sizePattern = /^(\d+(?:\.\d+)?)(b|kb|mb|gb)$/i;

/** Milliseconds for "250ms" | "2s" | "1.5m" | "1h" | "1d"; undefined when the text is not a duration. */
export function parseDuration(text: string): number | undefined {
  const match = durationPattern.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * durationUnits[match[2]]);
}

/** Bytes for "512b" | "16kb" | "10mb" | "1gb" (binary multiples); undefined when not a size. */
export function parseSize(text: string): number | undefined {
  const match = sizePattern.exec(text.trim());
  if (!match) return undefined;
  return Math.round(Number(match[1]) * sizeUnits[match[2].toLowerCase()]);
}

/** "1.2s", "35ms", "80µs": short human form for CLI output. */
export function formatDuration(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(ms >= 10_000 ? 0 : 2)}s`;
  if (ms >= 1) return `${ms.toFixed(ms >= 100 ? 0 : ms >= 10 ? 1 : 2)}ms`;
  return `${Math.round(ms * 1000)}µs`;
}
