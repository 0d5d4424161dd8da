// Reads the PROXY protocol header off a fresh socket, before any protocol sees a byte. The bytes after
// the header are pushed back (unshift), so the protocol handler reads the client's stream from its first
// byte; the socket is handed over paused (the handler resumes it when it starts reading).
import type net from 'node:net';
import { parseProxyHeader, PROXY_HEADER_MAX, type ProxyHeader } from './proxy-header.ts';

/** Calls `done` once: with the header, or with an error (the caller closes the socket). */
export function readProxyHeader(socket: net.Socket, timeoutMs: number, done: (header: ProxyHeader | undefined, error?: string) => void): void {
  let buffered: Buffer | undefined;
  let finished = false;
  const finish = (header: ProxyHeader | undefined, error?: string): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.off('close', onEnd);
    socket.off('error', onEnd);
    done(header, error);
  };
  const onData = (chunk: Buffer): void => {
    buffered = buffered === undefined ? chunk : Buffer.concat([buffered, chunk]);
    const parsed = parseProxyHeader(buffered);
    if (parsed === undefined) {
      if (buffered.length > PROXY_HEADER_MAX) finish(undefined, 'proxy protocol header too long');
      return;
    }
    if (parsed.error !== undefined) return finish(undefined, parsed.error);
    socket.pause();
    if (buffered.length > parsed.header.length) socket.unshift(buffered.subarray(parsed.header.length));
    finish(parsed.header);
  };
  const onEnd = (): void => finish(undefined, 'connection closed before its proxy protocol header');
  const timer = setTimeout(() => finish(undefined, `no proxy protocol header within ${timeoutMs}ms`), timeoutMs);
  socket.on('data', onData);
  socket.once('end', onEnd);
  socket.once('close', onEnd);
  socket.once('error', onEnd);
  socket.resume();
}
