// Whether dist/ (the JavaScript build of src/, scripts/build-dist.cjs) may run instead of the .ts sources:
// only when its build stamp is at least as new as every source file, so an edit not yet rebuilt is never
// shadowed by stale JavaScript. Shared by bin/switchyard.cjs and src/supervisor/code-base.ts. Synchronous
// (one stat per source file, a few ms): call it at start-up only. CommonJS so that any Node can load it.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

/** @returns {{ fresh: boolean, reason: string }} */
function distStatus(root) {
  let built;
  try {
    built = fs.statSync(path.join(root, 'dist', '.build-stamp')).mtimeMs;
  } catch {
    return { fresh: false, reason: 'dist/ is not built (npm run build)' };
  }
  const src = path.join(root, 'src');
  // An installed package ships dist/ and no TypeScript sources (at most src/diag/native, the addon's C code).
  if (!fs.existsSync(src)) return { fresh: true, reason: 'dist/ only' };
  for (const entry of fs.readdirSync(src, { recursive: true, withFileTypes: true })) {
    // .ts: compiled into dist/; .js and .css: the dashboard's browser sources, bundled into dist/ too
    if (!entry.isFile() || !/\.(ts|js|css)$/.test(entry.name) || entry.name.endsWith('.test.ts')) continue;
    const file = path.join(entry.parentPath ?? entry.path, entry.name);
    if (fs.statSync(file).mtimeMs > built) return { fresh: false, reason: `dist/ is older than ${path.relative(root, file)} (npm run build)` };
  }
  return { fresh: true, reason: 'dist/ is up to date' };
}

module.exports = { distStatus };
