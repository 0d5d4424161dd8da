// Reads V8 .cpuprofile files (node --cpu-prof) into "where did the time go" tables: self and total time per
// function (file:line) and self time per file, so a profile can be read without DevTools.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { runBounded } from './processes.ts';
import { formatFixed } from './stats.ts';
import { markdownTable } from './table.ts';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface ProfileEntry {
  name: string;
  /** Time in the function itself, µs. */
  selfUs: number;
  /** Time in the function and what it called, µs (recursion counted once). */
  totalUs: number;
}

export interface ProfileSummary {
  /** Sampled time, µs (including idle). */
  totalUs: number;
  idleUs: number;
  functions: ProfileEntry[];
  files: { file: string; selfUs: number }[];
}

export async function readCpuProfile(file: string): Promise<CpuProfile> {
  return JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
}

/** Shortens file:///work/main/src/l7/x.ts to src/l7/x.ts and node:internal/... stays as is. */
export function shortUrl(url: string, root: string): string {
  if (!url) return '';
  const plain = url.startsWith('file://') ? new URL(url).pathname : url;
  return plain.startsWith(root) ? path.relative(root, plain) : plain.replace(/^.*node_modules\//, 'node_modules/');
}

function nameOf(node: ProfileNode, root: string): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url ? ` ${shortUrl(url, root)}:${lineNumber + 1}` : '';
  return `${functionName || '(anonymous)'}${where}`;
}

export function summarizeProfile(profile: CpuProfile, root: string): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfById = new Map<number, number>();
  if (profile.samples && profile.timeDeltas) {
    // Each delta is the time before its sample; attribute it to the sample's node.
    for (let index = 0; index < profile.samples.length; index++) {
      const id = profile.samples[index];
      selfById.set(id, (selfById.get(id) ?? 0) + Math.max(0, profile.timeDeltas[index + 1] ?? profile.timeDeltas[index] ?? 0));
    }
  } else {
    const hits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0) || 1;
    const perHit = (profile.endTime - profile.startTime) / hits;
    for (const node of profile.nodes) selfById.set(node.id, (node.hitCount ?? 0) * perHit);
  }

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const files = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);

  for (const node of profile.nodes) {
    const us = selfById.get(node.id) ?? 0;
    if (us === 0) continue;
    totalUs += us;
    if (node.callFrame.functionName === '(idle)') idleUs += us;
    const name = nameOf(node, root);
    self.set(name, (self.get(name) ?? 0) + us);
    const file = shortUrl(node.callFrame.url, root) || node.callFrame.functionName;
    files.set(file, (files.get(file) ?? 0) + us);
    // Walk up the stack once, crediting each distinct function on it with this node's time.
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parentOf.get(id)) {
      const key = nameOf(byId.get(id)!, root);
      if (seen.has(key)) continue;
      seen.add(key);
      total.set(key, (total.get(key) ?? 0) + us);
    }
  }
  const functions = [...self.keys(), ...[...total.keys()].filter((key) => !self.has(key))].map((name) => ({ name, selfUs: self.get(name) ?? 0, totalUs: total.get(name) ?? 0 }));
  return {
    totalUs,
    idleUs,
    functions,
    files: [...files.entries()].map(([file, selfUs]) => ({ file, selfUs })).sort((a, b) => b.selfUs - a.selfUs),
  };
}

/**
 * The lines a profiling bench prints for its busiest process: busy time per request (`served` requests,
 * warm-up included), then the `top` functions by self time, the project's own code (src, bench, dist) by
 * total time, and the files by self time.
 */
export function profileReport(file: string, summary: ProfileSummary, served: number, top: number): string[] {
  const busy = summary.totalUs - summary.idleUs;
  const perRequest = (us: number): string => formatFixed(us / (served || 1), 2);
  const share = (us: number): string => formatFixed((100 * us) / busy, 1, ' %');
  return [
    `V8 CPU profile ${file}: busy ${formatFixed(busy / 1e6, 2)} s of ${formatFixed(summary.totalUs / 1e6, 2)} s sampled; ${served} requests (warm-up included) → ${perRequest(busy)} µs busy per request (profiler overhead included)`,
    '',
    markdownTable(
      [{ title: 'function (self time)' }, { title: 'self %', align: 'right' }, { title: 'µs/req', align: 'right' }, { title: 'total %', align: 'right' }],
      summary.functions
        .filter((entry) => entry.name !== '(idle)' && entry.selfUs > 0)
        .sort((a, b) => b.selfUs - a.selfUs)
        .slice(0, top)
        .map((entry) => [entry.name, share(entry.selfUs), perRequest(entry.selfUs), share(entry.totalUs)]),
    ),
    '',
    markdownTable(
      [{ title: 'function (total time, project code)' }, { title: 'total %', align: 'right' }, { title: 'µs/req', align: 'right' }],
      summary.functions
        .filter((entry) => / (src|bench|dist)\//.test(entry.name))
        .sort((a, b) => b.totalUs - a.totalUs)
        .slice(0, top)
        .map((entry) => [entry.name, share(entry.totalUs), perRequest(entry.totalUs)]),
    ),
    '',
    markdownTable(
      [{ title: 'file (self time)' }, { title: 'self %', align: 'right' }, { title: 'µs/req', align: 'right' }],
      summary.files.filter((entry) => entry.file !== '(idle)').slice(0, top).map((entry) => [entry.file, share(entry.selfUs), perRequest(entry.selfUs)]),
    ),
  ];
}

/** `perf report` of `file` sorted by `sort` (dso, comm, dso,sym…): [what, share] rows of 0.7 % or more. */
export async function perfReport(file: string, sort: string): Promise<string[][]> {
  const { stdout } = await runBounded(['perf', 'report', '-i', file, '--no-children', '--sort', sort, '--stdio', '-g', 'none', '--percent-limit', '0.7'], 60_000);
  return stdout
    .split('\n')
    .filter((line) => /^\s+[\d.]+%/.test(line))
    .map((line) => {
      const [, percent, rest] = /^\s+([\d.]+%)\s+(.*)$/.exec(line)!;
      const symbol = rest.replace(/\s+/g, ' ').trim();
      return [symbol.length > 110 ? `${symbol.slice(0, 110)}…` : symbol, percent];
    });
}
