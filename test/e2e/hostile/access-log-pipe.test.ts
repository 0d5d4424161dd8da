// Hostile readers of the access log on a pipe (log.access_log: stdout, stdout a FIFO as under a log
// collector): one that stops reading, one that closes its end. The edge runs as a real process (primary and
// one worker); its stdout is a named pipe that the test reads, holds back or closes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { cliEntry, node24 } from '../../support/run-switchyard.ts';

interface Edge {
  child: ChildProcess;
  /** The pipe's read end (a libuv pipe: pause() stops reading at once, destroy() closes at once). */
  reader: net.Socket;
  /** Everything read from the pipe so far. */
  text(): string;
  port: number;
  exited: Promise<void>;
  /** The pipe's end was read: every writer closed it. */
  ended: Promise<void>;
  cleanup(): Promise<void>;
}

/** Starts the edge with stdout on a FIFO read by `reader`; resolves once its ready line was read. */
async function startEdge(): Promise<Edge> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sy-hostile-log-'));
  const config = path.join(dir, 'switchyard.yaml');
  await writeFile(
    config,
    `data_dir: ./data
workers: 1
shutdown_timeout: 1s
log: { level: info, access_log: stdout }
listeners:
  - name: web
    listen: 127.0.0.1:0
    protocol: http
    routes:
      - match: { path_prefix: / }
        respond: { status: 200, body: "ok" }
`,
  );
  const fifo = path.join(dir, 'out.fifo');
  execFileSync('mkfifo', [fifo]);
  const reader = new net.Socket({ fd: openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
  const out = openSync(fifo, constants.O_WRONLY); // a blocking description, as a shell's pipe
  const child = spawn(node24, [cliEntry, 'start', '-c', config], { cwd: dir, stdio: ['ignore', out, 'pipe'], detached: true });
  closeSync(out); // from here the edge is the only writer, the test the only reader
  let text = '';
  reader.on('data', (chunk) => (text += chunk.toString()));
  const exited = once(child, 'exit').then(() => undefined);
  const ended = once(reader, 'end').then(() => undefined);
  const ready = await new Promise<{ listeners: Record<string, { port: number }> }>((resolve, reject) => {
    const onData = (): void => {
      const line = text.split('\n').find((candidate) => candidate.includes('"switchyard ready"'));
      if (line === undefined) return;
      reader.off('data', onData);
      resolve(JSON.parse(line));
    };
    reader.on('data', onData);
    void exited.then(() => reject(new Error('the edge exited before it was ready')));
  });
  return {
    child,
    reader,
    text: () => text,
    port: ready.listeners.web!.port,
    exited,
    ended,
    async cleanup() {
      // the whole group (detached: the primary leads it): a worker may outlive a killed primary while it
      // sits in a write to the pipe
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      reader.destroy();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** GET `pathname` on a new connection; the status. */
function get(port: number, pathname: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: pathname, agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
  });
}

/** Lines of ~8 KB (longer than PIPE_BUF): 60 of them are far more than a pipe holds (64 KB). */
const longPath = (i: number): string => `/${i}/${'p'.repeat(8000)}`;

async function sendLongLines(port: number, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) statuses.push(await get(port, longPath(i)));
  return statuses;
}

/** Resolves true when `exited` settles within `ms`. */
async function exitsWithin(exited: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const result = await Promise.race([exited.then(() => true), late]);
  clearTimeout(timer);
  return result;
}

test('a reader that stops reading: the edge keeps serving, SIGTERM still exits, the lines read are whole', async () => {
  const edge = await startEdge();
  try {
    edge.reader.pause();
    const statuses = await sendLongLines(edge.port, 60);
    assert.deepEqual(new Set(statuses), new Set([200]), 'every request answered while the pipe is full');
    const stoppedAt = Date.now();
    edge.child.kill('SIGTERM');
    // shutdown_timeout is 1s and nothing is in flight: the primary and its worker each wait at most half a
    // second for the stalled reader at exit; before, the worker sat in a blocking write until SIGKILL (5 s)
    // and the primary's thread-pool write kept it up for as long as the reader stalled
    assert.equal(await exitsWithin(edge.exited, 3000), true, `the edge exits after SIGTERM with a stalled reader (${Date.now() - stoppedAt} ms)`);
    edge.reader.resume();
    await edge.ended;
    const lines = edge.text().split('\n');
    // A line longer than PIPE_BUF can be taken in part by a non-blocking write; the worker gave up on the
    // rest at exit: that one line (the last the reader gets) may be cut, as documented in line-file-sink.ts.
    const tail = lines.pop()!;
    if (tail !== '') assert.match(tail, /^\{"level":"info","pid":\d+,"log":"access",/, 'only a long access line is cut, at the end');
    for (const line of lines) JSON.parse(line); // no other line cut or interleaved
    const access = lines.map((line) => JSON.parse(line) as { log?: string; path?: string }).filter((line) => line.log === 'access');
    assert.ok(access.length > 0, 'the reader got lines before it stalled');
    for (const line of access) assert.match(line.path!, /^\/\d+\/p{8000}$/);
  } finally {
    await edge.cleanup();
  }
});

test('a reader that closes the pipe (EPIPE): the edge keeps serving and exits on SIGTERM', async () => {
  const edge = await startEdge();
  try {
    edge.reader.destroy();
    const statuses = await sendLongLines(edge.port, 30);
    assert.deepEqual(new Set(statuses), new Set([200]));
    edge.child.kill('SIGTERM');
    assert.equal(await exitsWithin(edge.exited, 3000), true, 'the edge exits after SIGTERM with the reader gone');
  } finally {
    await edge.cleanup();
  }
});

test('lines longer than PIPE_BUF reach a reading reader whole and in order (one writer at a time)', async () => {
  const edge = await startEdge();
  try {
    const statuses = await sendLongLines(edge.port, 20);
    assert.deepEqual(new Set(statuses), new Set([200]));
    // every line read before SIGTERM: the primary's shutdown lines could otherwise land inside a long line
    // that the pipe took in part (no write longer than PIPE_BUF is atomic; line-file-sink.ts says so)
    await new Promise<void>((resolve) => {
      const check = (): void => {
        if (edge.text().includes(`"path":"${longPath(19)}"`)) {
          edge.reader.off('data', check);
          resolve();
        }
      };
      edge.reader.on('data', check);
      check();
    });
    edge.child.kill('SIGTERM');
    await edge.exited;
    await edge.ended;
    const lines = edge.text().split('\n');
    assert.equal(lines.pop(), '');
    const paths = lines.map((line) => JSON.parse(line) as { log?: string; path?: string }).filter((line) => line.log === 'access').map((line) => line.path);
    assert.deepEqual(paths, Array.from({ length: 20 }, (_, i) => longPath(i)));
  } finally {
    await edge.cleanup();
  }
});
