// The config loader's entry (config-process.ts): loads the file named by its argument and sends the result.
import { loadConfigFile } from '../config/index.ts';
import { ConfigError, messageOf } from '../core/index.ts';
import type { ConfigProcessReply } from './config-process.ts';

let reply: ConfigProcessReply;
try {
  reply = { loaded: await loadConfigFile(process.argv[2]) };
} catch (err) {
  reply = err instanceof ConfigError ? { issues: [...err.issues] } : { error: messageOf(err) };
}
process.send!(reply, () => process.disconnect());
