// Command-line options for benchmark scripts: "--name value" and "--flag", with typed defaults.

export type OptionSpec = Record<string, { default: number | string | boolean; help: string }>;

export type ParsedOptions<T extends OptionSpec> = { [K in keyof T]: T[K]['default'] extends number ? number : T[K]['default'] extends boolean ? boolean : string };

/** Parses argv against the spec; throws on an unknown option or a non-numeric number. */
export function parseOptions<T extends OptionSpec>(argv: readonly string[], spec: T): ParsedOptions<T> {
  const result: Record<string, number | string | boolean> = {};
  for (const [name, option] of Object.entries(spec)) result[name] = option.default;
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    const name = arg.replace(/^--/, '').replace(/-/g, '_');
    if (!arg.startsWith('--') || !(name in spec)) throw new Error(`unknown option ${arg}\n${usage(spec)}`);
    const kind = typeof spec[name].default;
    if (kind === 'boolean') {
      result[name] = true;
      continue;
    }
    const value = argv[++index];
    if (value === undefined) throw new Error(`option ${arg} needs a value`);
    if (kind === 'number') {
      const number = Number(value);
      if (!Number.isFinite(number)) throw new Error(`option ${arg}: expected a number, got ${JSON.stringify(value)}`);
      result[name] = number;
    } else {
      result[name] = value;
    }
  }
  return result as ParsedOptions<T>;
}

export function usage(spec: OptionSpec): string {
  return Object.entries(spec)
    .map(([name, option]) => `  --${name.replace(/_/g, '-')}${typeof option.default === 'boolean' ? '' : ' ' + String(option.default)}  ${option.help}`)
    .join('\n');
}
