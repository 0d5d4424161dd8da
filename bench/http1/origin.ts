// The benchmark origin: a raw `net` responder (not node:http) answering every request with a 5-byte body
// over keep-alive, so that it costs a few µs per request and never bounds the proxies under test.
// It frames requests by the blank line that ends a head; requests carry no body (GET only), which is all
// the benchmark sends. GET /__headers echoes the head it received, so the harness can check what each
// proxy forwards (X-Forwarded-For, X-Real-IP, hop-by-hop headers).
//
// usage: node bench/http1/origin.ts [--port 0] [--parent PID]  → prints "listening PORT"
import { createServer, type Socket } from 'node:net';
import { exitWithParent } from '../common/processes.ts';

const response = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello');
// Pipelined heads arrive together; one write per read keeps syscalls at one per batch.
const batches = Array.from({ length: 16 }, (_, count) => Buffer.concat(Array.from({ length: count + 1 }, () => response)));
const headEnd = Buffer.from('\r\n\r\n');
const echoPrefix = Buffer.from('GET /__headers');
const maxPending = 64 * 1024;

function responsesFor(count: number): Buffer {
  return count <= batches.length ? batches[count - 1] : Buffer.concat(Array.from({ length: count }, () => response));
}

function echo(head: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${head.length}\r\n\r\n`), head]);
}

function serve(socket: Socket): void {
  socket.setNoDelay(true);
  let pending: Buffer | undefined;
  socket.on('data', (chunk: Buffer) => {
    const data = pending ? Buffer.concat([pending, chunk]) : chunk;
    pending = undefined;
    let position = 0;
    let plain = 0;
    const out: Buffer[] = [];
    for (let end = data.indexOf(headEnd, position); end !== -1; end = data.indexOf(headEnd, position)) {
      const start = position;
      position = end + 4;
      if (data[start + 5] === 0x5f && data.subarray(start, start + echoPrefix.length).equals(echoPrefix)) {
        if (plain > 0) out.push(responsesFor(plain));
        plain = 0;
        out.push(echo(data.subarray(start, position)));
      } else {
        plain++;
      }
    }
    if (plain > 0) out.push(responsesFor(plain));
    if (position < data.length) {
      if (data.length - position > maxPending) return void socket.destroy();
      pending = Buffer.from(data.subarray(position));
    }
    if (out.length === 1) socket.write(out[0]);
    else if (out.length > 1) socket.write(Buffer.concat(out));
  });
  socket.on('error', () => socket.destroy());
}

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index === -1 ? fallback : process.argv[index + 1];
}

const server = createServer({ noDelay: true }, serve);
server.listen(Number(option('port', '0')), option('host', '127.0.0.1'), () => {
  const address = server.address();
  process.stdout.write(`listening ${typeof address === 'object' && address ? address.port : 0}\n`);
});

exitWithParent(Number(option('parent', '0')));
