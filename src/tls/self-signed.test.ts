// The self-signed development CA and leaf when several processes (the workers of one instance) make sure
// of them at once: each ends with the same CA, a leaf it issued, and the key that belongs to that leaf.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureSelfSigned } from './self-signed.ts';

test('four at once on an empty data dir: one CA, one leaf, its key, no lock left', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'sy-self-signed-'));
  try {
    const results = await Promise.all(Array.from({ length: 4 }, () => ensureSelfSigned(dir, 'dot', ['localhost', '127.0.0.1'])));
    assert.equal(results.filter((r) => r.createdCa).length, 1, 'the CA is made once');
    assert.equal(results.filter((r) => r.createdLeaf).length, 1, 'the leaf is made once');
    const ca = new X509Certificate(await readFile(results[0].caCert));
    const leaf = new X509Certificate(await readFile(results[0].cert));
    assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
    assert.ok(leaf.checkPrivateKey(createPrivateKey(await readFile(results[0].key))), 'the key is the leaf\'s');
    assert.deepEqual((await readdir(path.join(dir, 'tls'))).filter((name) => name.startsWith('.')), [], 'no lock or temporary directory left');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
