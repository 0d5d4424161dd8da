// A @grpc/grpc-js server for the Echo service (echo.proto). Behaviour is driven by the request text:
//   "fail:<code>:<message>"  → that status, with a custom trailer x-trailer: custom
//   "sleep:<ms>"             → answers after ms (deadlines)
// Every answer carries the backend's name in the trailer x-backend and in the reply text.
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

export interface Msg {
  text: string;
  count: number;
}

export function loadEcho(): grpc.GrpcObject {
  const definition = protoLoader.loadSync(path.join(import.meta.dirname, 'echo.proto'), { keepCase: true, defaults: true });
  return grpc.loadPackageDefinition(definition);
}

export type EchoClient = grpc.Client & Record<string, (...args: unknown[]) => unknown>;

export function echoClientClass(): new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => EchoClient {
  const pkg = loadEcho() as unknown as { switchyard: { test: { Echo: new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ChannelOptions) => EchoClient } } };
  return pkg.switchyard.test.Echo;
}

export interface GrpcBackend {
  port: number;
  address: string;
  calls: () => number;
  cancelled: () => number;
  /** Deadline of the last unary call as the backend saw it (from grpc-timeout), Infinity when none. */
  lastDeadline: () => number;
  close: () => Promise<void>;
}

function trailers(name: string, extra?: Record<string, string>): grpc.Metadata {
  const metadata = new grpc.Metadata();
  metadata.set('x-backend', name);
  for (const [key, value] of Object.entries(extra ?? {})) metadata.set(key, value);
  return metadata;
}

function failure(name: string, text: string): grpc.ServiceError | undefined {
  const match = /^fail:(\d+):(.*)$/.exec(text);
  if (!match) return undefined;
  return Object.assign(new Error(match[2]), { code: Number(match[1]), details: match[2], metadata: trailers(name, { 'x-trailer': 'custom' }) }) as grpc.ServiceError;
}

/** `withHealth`: also serves grpc.health.v1.Health/Check, always SERVING. */
export async function startGrpcBackend(name: string, credentials = grpc.ServerCredentials.createInsecure(), withHealth = false): Promise<GrpcBackend> {
  const pkg = loadEcho() as unknown as { switchyard: { test: { Echo: { service: grpc.ServiceDefinition } } } };
  const server = new grpc.Server();
  if (withHealth) {
    const health = grpc.loadPackageDefinition(protoLoader.loadSync(path.join(import.meta.dirname, 'health.proto'), { keepCase: true, enums: String })) as unknown as {
      grpc: { health: { v1: { Health: { service: grpc.ServiceDefinition } } } };
    };
    server.addService(health.grpc.health.v1.Health.service, { Check: (_call: unknown, callback: grpc.sendUnaryData<unknown>) => callback(null, { status: 'SERVING' }) });
  }
  let calls = 0;
  let cancelled = 0;
  let lastDeadline = Infinity;
  server.addService(pkg.switchyard.test.Echo.service, {
    Unary: (call: grpc.ServerUnaryCall<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) => {
      calls++;
      lastDeadline = Number(call.getDeadline());
      call.on('cancelled', () => cancelled++);
      const text = call.request.text;
      const error = failure(name, text);
      if (error) return callback(error);
      const sleep = /^sleep:(\d+)$/.exec(text);
      const answer = () => callback(null, { text: `${name}:${text}`, count: call.request.count + 1 }, trailers(name, { 'x-trailer': 'custom' }));
      if (sleep) setTimeout(answer, Number(sleep[1]));
      else answer();
    },
    ServerStream: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      calls++;
      for (let i = 0; i < call.request.count; i++) call.write({ text: `${name}:${call.request.text}:${i}`, count: i });
      const error = failure(name, call.request.text);
      // grpc-js: emitting 'error' on a server stream ends the call with that status after the messages
      if (error) return void call.emit('error', error);
      call.end(trailers(name));
    },
    ClientStream: (call: grpc.ServerReadableStream<Msg, Msg>, callback: grpc.sendUnaryData<Msg>) => {
      calls++;
      const texts: string[] = [];
      call.on('data', (msg: Msg) => texts.push(msg.text));
      call.on('end', () => callback(null, { text: `${name}:${texts.join(',')}`, count: texts.length }, trailers(name)));
    },
    Bidi: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      calls++;
      call.on('data', (msg: Msg) => call.write({ text: `${name}:${msg.text}`, count: msg.count * 2 }));
      call.on('end', () => call.end(trailers(name)));
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', credentials, (err, bound) => (err ? reject(err) : resolve(bound))));
  return {
    port,
    address: `127.0.0.1:${port}`,
    calls: () => calls,
    cancelled: () => cancelled,
    lastDeadline: () => lastDeadline,
    close: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())).then(() => server.forceShutdown()),
  };
}
