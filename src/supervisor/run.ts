// runEdge: the life of `switchyard start` — start the control plane, reload on SIGHUP, drain on
// SIGTERM/SIGINT, and resolve with the exit code once everything has stopped. The handlers stay installed
// until the edge has stopped: the same signal often arrives more than once (a process-group kill reaches
// both bin/switchyard.cjs and this process, and the launcher forwards its copy; a user presses Ctrl-C
// twice), and Node's default action for a signal without a handler is to die mid-drain.
import { messageOf } from '../core/index.ts';
import { ControlPlane, type ControlPlaneOptions } from './control-plane.ts';

export interface RunningEdge {
  plane: ControlPlane;
  /** Resolves with the exit code when the edge has stopped. */
  done: Promise<number>;
  shutdown(): Promise<void>;
}

/** Starts the edge and wires the process signals; for embedding (the demo) as well as the CLI. */
export async function startEdge(options: ControlPlaneOptions): Promise<RunningEdge> {
  const plane = new ControlPlane(options);
  await plane.start();
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return done.then(() => undefined);
    stopping = true;
    let code = 0;
    try {
      await plane.shutdown();
    } catch (err) {
      plane.logger.error({ error: messageOf(err) }, 'shutdown failed');
      code = 1;
    }
    process.off('SIGHUP', onHangup);
    process.off('SIGTERM', onTerminate);
    process.off('SIGINT', onTerminate);
    finish(code);
  };
  const onHangup = (): void => {
    if (stopping) return;
    plane.logger.info('SIGHUP: reloading');
    void plane.reload();
  };
  const onTerminate = (signal: NodeJS.Signals): void => {
    if (stopping) {
      plane.logger.info({ signal }, 'already stopping: in-flight requests finish within shutdown_timeout');
      return;
    }
    plane.logger.info({ signal }, 'stopping');
    void shutdown();
  };
  process.on('SIGHUP', onHangup);
  process.on('SIGTERM', onTerminate);
  process.on('SIGINT', onTerminate);
  return { plane, done, shutdown };
}

export async function runEdge(options: ControlPlaneOptions): Promise<number> {
  const edge = await startEdge(options);
  return edge.done;
}
