// One curl request with its head parsed and its body as text (latin1): for end-to-end tests that compare
// what a client of any protocol (curl's --http1.1, --http2-prior-knowledge, …) received.
import { execFile } from 'node:child_process';

export interface TextReply {
  status: number;
  /** Lower-case names; the last field of a name wins. */
  headers: Record<string, string>;
  body: string;
}

/** `fields` are "name: value" request headers. */
export function curlText(flags: string[], url: string, fields: string[]): Promise<TextReply> {
  const args = ['-sS', '--max-time', '10', '-D', '-', ...flags, ...fields.flatMap((field) => ['-H', field]), url];
  return new Promise((resolve, reject) => {
    execFile('curl', args, { encoding: 'latin1' }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`curl ${args.join(' ')}: ${stderr || error.message}`));
      const split = stdout.indexOf('\r\n\r\n');
      const lines = stdout.slice(0, split).split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines.slice(1)) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
      resolve({ status: Number(lines[0].split(' ')[1]), headers, body: stdout.slice(split + 4) });
    });
  });
}
