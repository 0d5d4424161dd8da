// A CLI command: one file per command under commands/, loaded only when invoked (start-up stays fast).
// Each command describes itself as data (synopsis, arguments, option table, examples): the parser, the
// --help text and the man-style pages in docs/man/ are all made from that one table (help.ts), so an
// option cannot be accepted without being documented, or documented without being accepted.
import type { ParseArgsOptionsConfig } from 'node:util';
import { nodeUtil } from '../core/index.ts';

export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface OptionSpec {
  /** Long name, without the dashes (`config` for --config). */
  name: string;
  /** One-letter alias, without the dash. */
  short?: string;
  /** Placeholder of the option's value (FILE, N); absent for a flag. */
  value?: string;
  /** The option may be given more than once (values collect in order). */
  multiple?: boolean;
  /** What applies when the option is absent, as the user would write it. */
  default?: string;
  /** One line (wrapped by the renderer), lower case, no final period. */
  description: string;
}

export interface ArgumentSpec {
  /** As in the synopsis: FILE, NAME, @server[:port]. */
  name: string;
  description: string;
}

export interface Command {
  /** One line for `switchyard --help`. */
  summary: string;
  /** What follows `switchyard NAME` in the usage line. */
  synopsis: string;
  /** Paragraphs for --help and the man page: what the command does, its exit codes. */
  description: readonly string[];
  arguments: readonly ArgumentSpec[];
  /** Every option the command accepts; -h/--help is added to all of them. */
  options: readonly OptionSpec[];
  /** Whole command lines, each runnable as shown. */
  examples: readonly string[];
  /** Returns the process exit code. Errors are reported in one line on stderr, never as a stack trace. */
  run(args: string[], io: CommandIo): Promise<number>;
}

/** The diagnostics' machine-readable output switch. */
export const jsonOption: OptionSpec = { name: 'json', description: 'print the result as JSON' };

/** ping and traceroute: which address of HOST to use. */
export const familyOptions: readonly OptionSpec[] = [
  { name: 'ipv4', short: '4', description: 'resolve HOST to an IPv4 address only' },
  { name: 'ipv6', short: '6', description: 'resolve HOST to an IPv6 address only' },
];

/** Every command's help option; main answers it before the command runs. */
export const helpOption: OptionSpec = { name: 'help', short: 'h', description: 'show this help and exit' };

/** Thrown for wrong arguments: main prints the message and the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

type ParsedValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** Parsed arguments, read by option name; asking for a name the table lacks is a programming error. */
export class ParsedArgs {
  readonly positionals: string[];
  readonly #values: ParsedValues;
  readonly #names: ReadonlySet<string>;

  constructor(values: ParsedValues, positionals: string[], names: ReadonlySet<string>) {
    this.#values = values;
    this.positionals = positionals;
    this.#names = names;
  }

  string(name: string): string | undefined {
    const value = this.#get(name);
    return typeof value === 'string' ? value : undefined;
  }

  flag(name: string): boolean {
    return this.#get(name) === true;
  }

  list(name: string): string[] {
    const value = this.#get(name);
    return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
  }

  #get(name: string): unknown {
    if (!this.#names.has(name)) throw new Error(`cli: option --${name} is not in the command's table`);
    return this.#values[name];
  }
}

/** node:util parseArgs over an option table, positionals allowed; its errors become UsageErrors (usage text, exit 2). */
export function parseCommandArgs(args: string[], options: readonly OptionSpec[]): ParsedArgs {
  const config: ParseArgsOptionsConfig = {};
  for (const option of [...options, helpOption]) {
    config[option.name] = { type: option.value === undefined ? 'boolean' : 'string', ...(option.short ? { short: option.short } : {}), ...(option.multiple ? { multiple: true } : {}) };
  }
  try {
    const { values, positionals } = nodeUtil.parseArgs({ args, allowPositionals: true, options: config });
    return new ParsedArgs(values, positionals, new Set(Object.keys(config)));
  } catch (err) {
    throw new UsageError(parseArgsMessage(err as Error & { code?: string }, args));
  }
}

/**
 * node's parseArgs messages read "Unknown option '--x'. To specify a positional argument starting with a '-', place
 * it at the end of the command after '--', ...": capitalised, and the advice is beside the point for an operator who
 * mistyped a flag. The unknown-option case is reworded (the option named as typed); the others stay node's words.
 */
function parseArgsMessage(err: Error & { code?: string }, args: string[]): string {
  if (err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const typed = /'([^']+)'/.exec(err.message)?.[1] ?? args.find((a) => a.startsWith('-')) ?? '';
    return `unknown option ${typed}`;
  }
  return err.message.charAt(0).toLowerCase() + err.message.slice(1);
}

/** The one config file of start, check and reload: `-c FILE` or FILE as the argument, not both. */
export function configFileArg(parsed: ParsedArgs): string {
  const flagged = parsed.string('config');
  const files = flagged === undefined ? parsed.positionals : [...parsed.positionals, flagged];
  if (files.length !== 1) throw new UsageError('expected one config file (-c FILE)');
  return files[0];
}

/** A numeric option in [min, max], or the fallback when absent; anything else is a UsageError. */
export function numberOption(text: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) throw new UsageError(`${name} expects a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return value;
}
