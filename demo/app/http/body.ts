// Reading a JSON request body with a size limit. The limit is checked against Content-Length before
// reading and again while reading (chunked bodies), so an oversized body costs at most `limit` bytes.
import type { IncomingMessage } from 'node:http';
import { HttpProblem } from './problem.ts';

const closeAfterReply = { connection: 'close' }; // the unread rest of the body makes the connection unusable

export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const type = req.headers['content-type']?.split(';')[0].trim().toLowerCase();
  if (type !== 'application/json' && !type?.endsWith('+json')) {
    // Requiring JSON also means a cross-site HTML form cannot post here without a CORS preflight.
    throw new HttpProblem(415, `expected content-type application/json, got ${type ?? 'none'}`, { code: 'unsupported_media_type', headers: closeAfterReply });
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new HttpProblem(413, `request body larger than ${limit} bytes`, { code: 'too_large', headers: closeAfterReply });

  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpProblem(413, `request body larger than ${limit} bytes`, { code: 'too_large', headers: closeAfterReply });
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
  } catch (err) {
    throw new HttpProblem(400, `request body is not valid JSON: ${(err as Error).message}`, { code: 'invalid_json' });
  }
}
