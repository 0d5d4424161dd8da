// node:http2 server options from a listener's `http2:` and `limits:` sections, computed once per config.
import type { ServerOptions } from 'node:http2';
import type { ListenerConfig } from '../config/index.ts';

export function http2ServerOptions(listener: ListenerConfig): ServerOptions {
  const { max_concurrent_streams, max_header_list_size, max_resets_per_second } = listener.http2;
  return {
    settings: {
      maxConcurrentStreams: max_concurrent_streams,
      maxHeaderListSize: max_header_list_size,
      enablePush: false,
      // a larger per-stream window than the 64 KiB default lets one fast stream fill the pipe; the
      // per-stream limit still keeps a slow reader from buffering more than this in the proxy
      initialWindowSize: 256 * 1024,
    },
    // nghttp2's own reset limiter, a backstop well behind ours: it answers INTERNAL_ERROR where ours answers
    // ENHANCE_YOUR_CALM, and it acts inside one read while ours counts the stream closes that read produced
    streamResetBurst: Math.max(1000, max_resets_per_second * 10),
    streamResetRate: Math.max(100, max_resets_per_second * 2),
    maxSessionInvalidFrames: 100,
    maxSessionRejectedStreams: 100,
    // bytes of memory a session may hold (MB): bounds HPACK tables and buffered frames per client
    maxSessionMemory: 32,
    strictFieldWhitespaceValidation: true,
  };
}
