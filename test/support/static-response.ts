// Reading a StaticFiles answer in unit tests (src/l7/responders): a field's value and the whole body as text,
// whether the body is an in-memory Buffer or a stream from the file.
import type { Readable } from 'node:stream';
import type { StaticResponse } from '../../src/l7/responders/static-files.ts';

export const header = (response: StaticResponse, name: string): string | undefined => {
  const index = response.headers.findIndex((value, i) => i % 2 === 0 && value === name);
  return index < 0 ? undefined : response.headers[index + 1];
};

export const text = async (response: StaticResponse): Promise<string> => {
  if (response.body === null) return '';
  if (Buffer.isBuffer(response.body)) return response.body.toString();
  const chunks: Buffer[] = [];
  for await (const chunk of response.body as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
};
