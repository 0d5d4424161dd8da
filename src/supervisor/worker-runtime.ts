// The command line and environment of forked traffic workers, from the config's `runtime` section.
//
// jemalloc: node:http2 (nghttp2) and OpenSSL allocate and free small blocks per request; with glibc's
// malloc a bare node:http2 TLS server answered 67k req/s on one core here, with jemalloc preloaded 103k
// (bench/RESULTS-h2.md has the proxy's figures). Plain HTTP/1.1 gains no speed (paired runs: 1.00×), and
// jemalloc's arenas add ~4 MB to an idle worker; but after 5k connections glibc kept a plain HTTP worker
// ~40 % above its idle size for good, where jemalloc gave it back. So `auto` preloads it whenever it is
// installed. LD_PRELOAD only works at exec: it is set in the workers' environment.
//
// Semi-space: Node sizes V8's young generation from the machine's memory; on 24 GB it grows to 64 MB per
// semi-space, and a scavenge that copies a few hundred in-flight HTTP/2 exchanges then pauses for 15–20 ms
// (p99), while the worker's RSS grows by the same amount. 4 MB (the default) keeps pauses near 1 ms and a
// worker's peak RSS under 100 MB, at the same total GC time (a scavenge costs what survives it).
//
// Memory after load: closed connections' native memory (OpenSSL state, socket buffers) is freed only when
// V8 collects their wrappers, and an idle V8 never collects; then jemalloc returns freed pages only when
// it is called again, which an idle worker does not do. So workers run with --expose-gc (the worker's
// IdleCollector runs one memory-reducing GC when the loop falls idle after load) and jemalloc with
// `background_thread:true` (a jemalloc thread purges dirty pages on its decay schedule, 10 s, even when
// the worker is idle). Measured: docs/operations.md, "Memory after load".
import { existsSync } from 'node:fs';
import { EdgeError, JEMALLOC_PATHS } from '../core/index.ts';
import type { RuntimeConfig } from '../config/index.ts';

/** jemalloc's options for workers: purge freed pages from a background thread, also while idle. */
export const JEMALLOC_CONF = 'background_thread:true';

export interface WorkerRuntime {
  /** Added to the worker's node command line. */
  execArgv: string[];
  /** Variables set in the worker's environment (on top of the primary's). */
  env: Record<string, string>;
  /** What the workers run with, for the start-up log line. */
  allocator: 'jemalloc' | 'system';
  jemallocPath?: string;
}

/**
 * What workers inherit of this process's node command line: all of it but the primary's own V8 flags,
 * which bin/switchyard.cjs adds to `switchyard start` and names in SWITCHYARD_PRIMARY_FLAGS.
 */
export function inheritedExecArgv(execArgv: readonly string[] = process.execArgv, primaryFlags = process.env.SWITCHYARD_PRIMARY_FLAGS): string[] {
  const own = new Set((primaryFlags ?? '').split(' ').filter((flag) => flag.length > 0));
  return execArgv.filter((flag) => !own.has(flag));
}

/**
 * Start-up only (it looks for files synchronously). Throws when jemalloc is required and missing.
 * `currentPreload`, `candidates` and `currentMallocConf` default to this process's LD_PRELOAD, the usual
 * library paths and this process's MALLOC_CONF.
 */
export function workerRuntime(config: RuntimeConfig, currentPreload = process.env.LD_PRELOAD, candidates: readonly string[] = JEMALLOC_PATHS, currentMallocConf = process.env.MALLOC_CONF): WorkerRuntime {
  const execArgv: string[] = ['--expose-gc'];
  const semiMb = Math.round(config.semi_space / (1024 * 1024));
  if (semiMb > 0) execArgv.push(`--max-semi-space-size=${semiMb}`);
  const env: Record<string, string> = {};
  if (config.allocator === 'system') return { execArgv, env, allocator: 'system' };
  const found = candidates.find((file) => existsSync(file));
  if (found === undefined) {
    if (config.allocator === 'jemalloc') {
      throw new EdgeError('SY_ERR_CONFIG', `runtime.allocator: jemalloc was asked for, but libjemalloc.so.2 is not in ${candidates.join(', ')} (Debian: apt-get install libjemalloc2)`, { source: 'config' });
    }
    return { execArgv, env, allocator: 'system' };
  }
  const preload = currentPreload ?? '';
  env.LD_PRELOAD = preload.includes('libjemalloc') ? preload : [found, preload].filter((part) => part.length > 0).join(':');
  // an operator's own MALLOC_CONF wins (it may already set background_thread or its own decay times)
  if (currentMallocConf === undefined) env.MALLOC_CONF = JEMALLOC_CONF;
  return { execArgv, env, allocator: 'jemalloc', jemallocPath: found };
}
