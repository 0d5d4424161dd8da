import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from './clock.ts';
import { HttpDate } from './http-date.ts';

test('HttpDate formats IMF-fixdate once per second and reuses the string within it', () => {
  const clock = new FakeClock(Date.UTC(2026, 11, 7, 11, 24, 53, 100));
  const date = new HttpDate(clock);
  const first = date.value();
  assert.equal(first, 'Mon, 07 Dec 2026 11:24:53 GMT');
  assert.equal(date.line(), 'date: Mon, 07 Dec 2026 11:24:53 GMT\r\n');
  clock.advance(899);
  assert.equal(date.value(), first, 'same second: the cached string');
  clock.advance(1);
  assert.equal(date.value(), 'Mon, 07 Dec 2026 11:24:54 GMT');
});
