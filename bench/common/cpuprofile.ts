// Reads V8 .cpuprofile files (node --cpu-prof) into "where did the time go" tables: self and total time per
// function (file:line) and self time per file, so a profile can be read without DevTools.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

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
