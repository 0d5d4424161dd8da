// A CLI command: one file per command under commands/, loaded only when invoked (start-up stays fast).
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

export interface CommandIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export interface Command {
  /** One line for `switchyard help`. */
  summary: string;
  /** Full usage text for `switchyard help NAME` and usage errors. */
  usage: string;
  /** Returns the process exit code. Errors are reported in one line on stderr, never as a stack trace. */
  run(args: string[], io: CommandIo): Promise<number>;
}

/** Thrown for wrong arguments: main prints the message and the command's usage, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** node:util parseArgs with positionals allowed; its errors become UsageErrors (usage text, exit 2). */
export function parseCommandArgs<T extends ParseArgsOptionsConfig>(args: string[], options: T): ReturnType<typeof parseArgs<{ args: string[]; allowPositionals: true; options: T }>> {
  try {
    return parseArgs({ args, allowPositionals: true, options });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A numeric option in [min, max], or the fallback when absent; anything else is a UsageError. */
export function numberOption(text: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) throw new UsageError(`${name} expects a number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  return value;
}
