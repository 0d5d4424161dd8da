// The primary loads its config (start and every reload) in a child process that exits when it is done. The
// YAML parser, zod and the compiled schemas take ~20 MB of a process's memory once loaded, and a loaded
// module stays for the life of its process (a worker thread does not help: the primary kept what the thread
// used, 98 MB RSS after start against 74 MB with a child process). What comes back is the validated Config as a structured clone
// (IPC serialization 'advanced'), as the workers receive it (config-snapshot.ts), so the primary holds the
// data and none of the machinery. `switchyard check` and the other commands load in-process
// (config/load.ts): this is the same function run elsewhere, so what check accepts is what start runs.
import { fork } from 'node:child_process';
import path from 'node:path';
import type { LoadedConfig } from '../config/index.ts';
import { ConfigError } from '../core/index.ts';
import { loadedFromSnapshot } from './config-snapshot.ts';

/** What the loader posts back (config-process-main.ts): the config, or why it was refused. */
export type ConfigProcessReply = { loaded: LoadedConfig } | { issues: string[] } | { error: string };

/**
 * loadConfigFile(file) in a child process: the LoadedConfig, or its ConfigError (the same lines). Resolves
 * once the child has exited. Costs a Node start (~50 ms) on top of the load itself; start-up and reload only.
 */
export function loadConfigInProcess(file: string): Promise<LoadedConfig> {
  // the entry beside this module, built (.js) or not (.ts), like the code running now
  const entry = new URL(`./config-process-main${path.extname(import.meta.filename)}`, import.meta.url);
  return new Promise((resolve, reject) => {
    let reply: ConfigProcessReply | undefined;
    let failure: Error | undefined;
    const child = fork(entry, [file], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (message: ConfigProcessReply) => (reply = message));
    child.once('error', (err) => (failure = err));
    child.once('exit', (code) => {
      if (reply === undefined) reject(failure ?? new Error(`config: the loading process exited with code ${code} and no answer`));
      else if ('loaded' in reply) resolve(loadedFromSnapshot(reply.loaded));
      else if ('issues' in reply) reject(new ConfigError(reply.issues));
      else reject(new Error(reply.error));
    });
  });
}
