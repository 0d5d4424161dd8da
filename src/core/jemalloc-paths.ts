// Where jemalloc may be installed. In core because both the config checks (`allocator: jemalloc` needs the
// library) and the primary's worker launcher (src/supervisor/worker-runtime.ts) look for it, and the
// primary does not load the config schema (src/supervisor/config-process.ts).

/** Where Debian, Fedora, Alpine and source builds put jemalloc's shared library (`allocator: jemalloc` needs one). */
export const JEMALLOC_PATHS: readonly string[] = [
  `/usr/lib/${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu/libjemalloc.so.2`,
  '/usr/lib64/libjemalloc.so.2',
  '/usr/lib/libjemalloc.so.2',
  '/usr/local/lib/libjemalloc.so.2',
];
