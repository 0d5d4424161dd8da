// Public entry of the cli component for other components: the streams a command writes to, which the
// diagnostics share. The command itself starts from main.ts (bin/switchyard.cjs).
export type { Command, CommandIo } from './command.ts';
