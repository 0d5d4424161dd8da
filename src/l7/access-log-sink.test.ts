import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { openAccessLogSink } from './access-log-sink.ts';

test('sink appends whole lines to the file, in order, after one turn', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-access-'));
  try {
    const file = path.join(dir, 'sub', 'access.log');
    fs.mkdirSync(path.dirname(file));
    fs.writeFileSync(file, 'old\n');
    const sink = openAccessLogSink(file);
    const lines: string[] = [];
    for (let i = 0; i < 1000; i++) {
      const line = JSON.stringify({ i, path: '/é/' + 'x'.repeat(i % 50) }) + '\n';
      lines.push(line);
      sink.write(line);
    }
    // Bounded wait for the async writes to land.
    const expected = 'old\n' + lines.join('');
    for (let n = 0; n < 200 && fs.readFileSync(file, 'utf8') !== expected; n++) await delay(10);
    assert.equal(fs.readFileSync(file, 'utf8'), expected);
    assert.equal(sink.dropped, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('sink drops and counts whole lines when both buffers are busy', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sy-access-'));
  try {
    const file = path.join(dir, 'access.log');
    const sink = openAccessLogSink(file);
    const line = '{"path":"/' + 'y'.repeat(1000) + '"}\n';
    // 300 KB in one turn: more than two 64 KB buffers can hold.
    for (let i = 0; i < 300; i++) sink.write(line);
    assert.ok(sink.dropped > 0);
    const kept = 300 - sink.dropped;
    for (let n = 0; n < 200 && fs.statSync(file).size < kept * line.length; n++) await delay(10);
    assert.equal(fs.readFileSync(file, 'utf8'), line.repeat(kept));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
