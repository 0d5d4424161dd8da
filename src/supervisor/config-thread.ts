// The primary loads its config (start and every reload) in a worker thread that exits when it is done. The
// YAML parser, zod and the compiled schemas take ~20 MB of a process's memory once loaded, and a module
// once loaded stays for the life of the process; in a thread they live in the thread's own V8 isolate,
// which is torn down with it. What comes back is the validated Config as a structured clone, the same way
// the workers receive it (config-snapshot.ts), so the primary holds the data and none of the machinery.
// `switchyard check` and the other commands load in-process (config/load.ts): this is the same function,
// run elsewhere, so what check accepts is still exactly what start runs.
import path from 'node:path';
import { fork } from 'node:child_process';
import type { LoadedConfig } from '../config/index.ts';
import { ConfigError } from '../core/index.ts';
import { loadedFromSnapshot } from './config-snapshot.ts';

/** What the thread posts back (config-thread-main.ts): the config, or why it was refused. */
export type ConfigThreadReply = { loaded: LoadedConfig } | { issues: string[] } | { error: string };

/**
 * loadConfigFile(file) in a thread: the LoadedConfig, or its ConfigError (the same lines). Resolves once the
 * thread has exited, so its memory is gone by the time the caller goes on. Costs a thread start (~20 ms)
 * on top of the load itself; start-up and reload only.
 */
export function loadConfigInThread(file: string): Promise<LoadedConfig> {
  // the entry beside this module, built (.js) or not (.ts), like the code running now
  const entry = new URL(`./config-thread-main${path.extname(import.meta.filename)}`, import.meta.url);
  return new Promise((resolve, reject) => {
    let reply: ConfigThreadReply | undefined;
    let failure: Error | undefined;
    const thread = fork(entry, [file], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    thread.once('message', (message: ConfigThreadReply) => (reply = message));
    thread.once('error', (err) => (failure = err));
    thread.once('exit', (code) => {
      if (reply === undefined) reject(failure ?? new Error(`config: the loading thread exited with code ${code} and no answer`));
      else if ('loaded' in reply) resolve(loadedFromSnapshot(reply.loaded));
      else if ('issues' in reply) reject(new ConfigError(reply.issues));
      else reject(new Error(reply.error));
    });
  });
}
