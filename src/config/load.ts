// Loading a config: YAML text → typed, validated, cross-checked Config, or a ConfigError whose every line
// reads `file:line:col: field.path: expected X, got Y`. Runs at start-up and on reload, never per request.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument, LineCounter, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../core/index.ts';
import { configSchema, type Config } from './schema/index.ts';
import { crossCheck, type ConfigIssue } from './cross-check.ts';
import { fileIssues } from './files.ts';
import { yamlErrorMessages } from './yaml-errors.ts';

export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file it came from (or a label for inline text). */
  file: string;
  /** Directory relative paths in the config resolve against. */
  baseDir: string;
}

/**
 * The one validation of a config file — `switchyard check`, start and reload all come through here, so what
 * check accepts is what start runs: YAML, schema, cross-checks, then the files it names (static roots,
 * certificates, the admin token file).
 */
export async function loadConfigFile(file: string): Promise<LoadedConfig> {
  const absolute = path.resolve(file);
  let text: string;
  try {
    text = await readFile(absolute, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read config: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  const parsed = parse(text, absolute, path.dirname(absolute));
  const issues = await fileIssues(parsed.loaded.config, parsed.loaded.baseDir);
  if (issues.length > 0) throw new ConfigError(issues.map(parsed.format));
  return parsed.loaded;
}

/** Validates config text without looking at the files it names; `file` is used only in messages. */
export function parseConfigText(text: string, file: string, baseDir: string): LoadedConfig {
  return parse(text, file, baseDir).loaded;
}

interface Parsed {
  loaded: LoadedConfig;
  /** An issue found later (files.ts) as `file:line:col: field: message`. */
  format: (issue: ConfigIssue) => string;
}

function parse(text: string, file: string, baseDir: string): Parsed {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const where = (offset: number | undefined): string => {
    if (offset === undefined) return file;
    const { line, col } = lineCounter.linePos(offset);
    return `${file}:${line}:${col}`;
  };

  if (document.errors.length > 0) {
    throw new ConfigError(yamlErrorMessages(text, document.errors, lineCounter, file));
  }

  const raw = document.toJS() ?? {};
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((issue) => formatIssue(issue, document, raw, where)));
  }

  const format = (issue: ConfigIssue): string => `${where(offsetOf(document, issue.path))}: ${pathText(issue.path)}: ${issue.message}`;
  const given = (keys: readonly PathKey[]): boolean => valueAt(raw, keys) !== undefined;
  const issues = crossCheck(result.data, given);
  if (issues.length > 0) throw new ConfigError(issues.map(format));
  return { loaded: { config: result.data, file, baseDir }, format };
}

type PathKey = string | number;

function pathText(keys: readonly PathKey[]): string {
  let text = '';
  for (const key of keys) text += typeof key === 'number' ? `[${key}]` : text === '' ? key : `.${key}`;
  return text === '' ? '(root)' : text;
}

/** Start offset of the deepest node that exists along the path (the key itself for an unknown key). */
function offsetOf(document: Document, keys: readonly PathKey[]): number | undefined {
  for (let depth = keys.length; depth >= 0; depth--) {
    const node = document.getIn(keys.slice(0, depth), true);
    if (isNode(node) && node.range) return node.range[0];
  }
  return undefined;
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

function valueAt(raw: unknown, keys: readonly PathKey[]): unknown {
  let value = raw;
  for (const key of keys) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PathKey, unknown>)[key];
  }
  return value;
}

function formatIssue(issue: z.core.$ZodIssue, document: Document, raw: unknown, where: (offset: number | undefined) => string): string {
  const keys = issue.path.filter((key): key is PathKey => typeof key !== 'symbol');
  if (issue.code === 'unrecognized_keys') {
    // Point at each unknown key itself, not at the mapping that holds it.
    return issue.keys
      .map((key) => {
        const keyPath = [...keys, key];
        const node = findKeyNode(document, keys, key);
        return `${where(node ?? offsetOf(document, keyPath))}: ${pathText(keyPath)}: unknown key (check the spelling; see the config reference)`;
      })
      .join('\n');
  }
  const got = describe(valueAt(raw, keys));
  let message = issue.message;
  if (issue.code === 'invalid_type') message = message.startsWith('expected ') ? `${message}, got ${got}` : `expected ${issue.expected}, got ${got}`;
  else if (issue.code === 'invalid_value') message = `expected one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}, got ${got}`;
  else if (!/\bgot\b/.test(message)) message = `${message.replace(/^Invalid input: /, '')}, got ${got}`;
  return `${where(offsetOf(document, keys))}: ${pathText(keys)}: ${message}`;
}

function findKeyNode(document: Document, mapPath: readonly PathKey[], key: string): number | undefined {
  const map = mapPath.length === 0 ? document.contents : document.getIn(mapPath, true);
  const items = (map as { items?: { key: { value?: unknown; range?: [number, number, number] } }[] } | null)?.items;
  const pair = items?.find((item) => item.key?.value === key);
  return pair?.key.range?.[0];
}
