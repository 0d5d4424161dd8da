// The waterfall: one row per phase with its start, duration and a text bar scaled to the whole request;
// the server's Server-Timing entries are drawn under the wait (that is where the server spent them),
// from the wait's start, or from their `start=` offset when the server gives one.
import { bar } from './format.ts';
import type { ServerTimingEntry } from './server-timing.ts';
import type { Phase } from './trace.ts';

const BAR_WIDTH = 48;
const LABEL_WIDTH = 22;

const msText = (value: number): string => `${value.toFixed(value >= 100 ? 1 : 2)}ms`;

export function renderWaterfall(phases: readonly Phase[], serverTiming: readonly ServerTimingEntry[], totalMs: number): string[] {
  const scale = Math.max(totalMs, 0.001);
  const header = `${'phase'.padEnd(LABEL_WIDTH)}${'start'.padStart(10)}${'time'.padStart(10)}  |${'0'.padEnd(BAR_WIDTH - msText(totalMs).length)}${msText(totalMs)}|`;
  const lines = [header];
  const row = (label: string, start: number | undefined, duration: number | undefined, cells: string): string =>
    `${label.slice(0, LABEL_WIDTH - 1).padEnd(LABEL_WIDTH)}${(start === undefined ? '' : msText(start)).padStart(10)}${(duration === undefined ? '' : msText(duration)).padStart(10)}  |${cells}|`;
  for (const phase of phases) {
    lines.push(row(phase.label, phase.startMs, phase.durationMs, bar(phase.startMs, phase.durationMs, scale, BAR_WIDTH)));
    if (phase.name !== 'wait') continue;
    serverTiming.forEach((entry, index) => {
      const branch = index === serverTiming.length - 1 ? '└ ' : '├ ';
      const label = `  ${branch}${entry.name}`;
      if (entry.durationMs === undefined) {
        lines.push(row(label, undefined, undefined, ' '.repeat(BAR_WIDTH)) + (entry.description ? `  ${entry.description}` : ''));
        return;
      }
      const start = phase.startMs + (entry.startMs ?? 0);
      // server clocks and ours differ: keep the drawing inside the wait, the number stays as reported
      const shown = Math.max(0, Math.min(entry.durationMs, phase.startMs + phase.durationMs - start));
      const cells = bar(Math.min(start, phase.startMs + phase.durationMs), shown, scale, BAR_WIDTH, '▒');
      lines.push(row(label, entry.startMs === undefined ? undefined : start, entry.durationMs, cells) + (entry.description ? `  ${entry.description}` : ''));
    });
  }
  lines.push(row('total', undefined, totalMs, ' '.repeat(BAR_WIDTH)));
  return lines;
}
