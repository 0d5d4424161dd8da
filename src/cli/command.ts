// A CLI command: one file per command under commands/, loaded only when invoked (start-up stays fast).

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
