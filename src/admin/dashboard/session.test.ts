import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DashboardSessions, sessionCookie } from './session.ts';

test('a session cookie is valid until it expires, and only in the process that issued it', () => {
  let now = 1_700_000_000_000;
  const sessions = new DashboardSessions(() => now);
  const cookie = sessions.issue();
  assert.equal(sessions.valid(cookie), true);
  assert.equal(new DashboardSessions(() => now).valid(cookie), false, 'another key (a restarted process)');
  now += 12 * 60 * 60 * 1000 - 1;
  assert.equal(sessions.valid(cookie), true);
  now += 1;
  assert.equal(sessions.valid(cookie), false, 'expired after 12 hours');
});

test('a tampered cookie is refused: a later expiry, another MAC, garbage', () => {
  const now = 1_700_000_000_000;
  const sessions = new DashboardSessions(() => now);
  const cookie = sessions.issue();
  const [expiry, nonce, mac] = cookie.split('.');
  assert.equal(sessions.valid(`${Number(expiry) + 1}.${nonce}.${mac}`), false);
  assert.equal(sessions.valid(`${expiry}.${nonce}.${mac.replace(/.$/, (c) => (c === '0' ? '1' : '0'))}`), false);
  for (const junk of ['', '.', 'x', `${expiry}.${nonce}`, undefined]) assert.equal(sessions.valid(junk), false, String(junk));
});

test('the CSRF value is per cookie and is not the cookie', () => {
  const sessions = new DashboardSessions();
  const [one, two] = [sessions.issue(), sessions.issue()];
  assert.notEqual(sessions.csrfFor(one), sessions.csrfFor(two));
  assert.equal(sessions.csrfFor(one), sessions.csrfFor(one));
  assert.ok(!sessions.csrfFor(one).includes(one));
});

test('the session cookie is found among others in a Cookie header', () => {
  assert.equal(sessionCookie('a=1; switchyard_admin=v.w.x; b=2'), 'v.w.x');
  assert.equal(sessionCookie('switchyard_adminx=1'), undefined);
  assert.equal(sessionCookie(undefined), undefined);
});
