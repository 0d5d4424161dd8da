// The loading thread's entry (config-thread.ts): loads the file named by workerData and posts the result.
import { loadConfigFile } from '../config/index.ts';
import { ConfigError, messageOf } from '../core/index.ts';
import type { ConfigThreadReply } from './config-thread.ts';

let reply: ConfigThreadReply;
try {
  reply = { loaded: await loadConfigFile(process.argv[2]) };
} catch (err) {
  reply = err instanceof ConfigError ? { issues: [...err.issues] } : { error: messageOf(err) };
}
process.send!(reply, () => process.disconnect());
