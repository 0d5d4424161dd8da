// switchyard passwd USER: one line of a forward proxy's proxy_auth password file (scrypt, PHC form).
import { hashPassword } from '../../forward/index.ts';
import { UsageError, parseCommandArgs, type Command, type OptionSpec } from '../command.ts';

const options: readonly OptionSpec[] = [];

/** The first line of standard input (the password), without its line end. */
async function readPassword(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if ((chunk as Buffer).includes(0x0a)) break;
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
}

export const command: Command = {
  summary: 'print a proxy_auth password file line for USER (password read from standard input)',
  synopsis: 'USER < password',
  description: [
    'Reads a password from the first line of standard input and prints USER:$scrypt$ln=14,r=8,p=1$SALT$KEY, a line for the password file a forward_proxy listener names in proxy_auth.file (docs/forward-proxy.md). The salt is random: the same password gives a different line each time.',
    'Exit status: 0 when a line was printed, 1 when the password is empty, 2 for wrong arguments.',
  ],
  arguments: [{ name: 'USER', description: 'the user name (no ":" or spaces)' }],
  options,
  examples: ["printf '%s\\n' 's3cret' | switchyard passwd alice >> proxy.passwd"],
  async run(args, io) {
    const parsed = parseCommandArgs(args, options);
    if (parsed.positionals.length !== 1) throw new UsageError('expected one USER');
    const user = parsed.positionals[0];
    if (user === '' || user.includes(':') || /\s/.test(user)) throw new UsageError('expected a user name without ":" or spaces');
    const password = await readPassword();
    if (password === '') {
      io.stderr.write('passwd: expected a password on the first line of standard input, got an empty line\n');
      return 1;
    }
    io.stdout.write(`${await hashPassword(user, password)}\n`);
    return 0;
  },
};
