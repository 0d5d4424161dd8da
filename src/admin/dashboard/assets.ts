// The dashboard's front end (ui/: plain DOM code, no framework) as one script and one stylesheet, bundled by
// esbuild. An installed package and a built checkout run from dist/, where scripts/build-dist.cjs wrote the
// bundle next to this module (dist/admin/dashboard/ui/app.js and app.css). Running from the .ts sources
// (a checkout without a build, the tests), the bundle is built in memory on first request, with the
// esbuild devDependency, and kept for the life of the admin server.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Esbuild from 'esbuild';

export interface DashboardAssets {
  js: string;
  css: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const fromSources = import.meta.url.endsWith('.ts');

/** The bundle's sources; scripts/build-dist.cjs names the same two (it is CommonJS and cannot import this). */
const bundleEntries = [path.join(here, 'ui', 'app.js'), path.join(here, 'ui', 'app.css')];

async function buildInMemory(): Promise<DashboardAssets> {
  let esbuild: typeof Esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    throw new Error('admin dashboard: running from sources needs esbuild (npm install) or a dist/ build (npm run build)');
  }
  const result = await esbuild.build({ entryPoints: bundleEntries, outdir: '/dashboard', bundle: true, minify: true, format: 'esm', target: 'es2022', write: false, logLevel: 'silent' });
  const out = (ext: string): string => result.outputFiles.find((file) => file.path.endsWith(ext))!.text;
  return { js: out('.js'), css: out('.css') };
}

async function readBuilt(): Promise<DashboardAssets> {
  const [js, css] = await Promise.all([readFile(path.join(here, 'ui', 'app.js'), 'utf8'), readFile(path.join(here, 'ui', 'app.css'), 'utf8')]);
  return { js, css };
}

/** Loads the assets once per owner (the admin server's Dashboard); a failure is retried on the next call. */
export class DashboardBundle {
  private pending: Promise<DashboardAssets> | undefined;

  get(): Promise<DashboardAssets> {
    this.pending ??= (fromSources ? buildInMemory() : readBuilt()).catch((err: unknown) => {
      this.pending = undefined;
      throw err;
    });
    return this.pending;
  }
}
