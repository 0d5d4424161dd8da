// A reference daemon a test runs beside Switchyard (squid, haproxy): spawned in the foreground, its output
// kept for the error message, ready once every one of its ports accepts a connection — such daemons print
// nothing when they are ready — or failed when it exits first or the deadline passes.
import { spawn } from 'node:child_process';
import net from 'node:net';
import { setTimeout as pause } from 'node:timers/promises';

export interface RunningDaemon {
  stop(): Promise<void>;
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

/** Starts `command args` and waits (up to `deadlineMs`) until 127.0.0.1 accepts on every port in `ports`. */
export async function startDaemon(name: string, command: string, args: readonly string[], ports: readonly number[], deadlineMs: number): Promise<RunningDaemon> {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  const deadline = Date.now() + deadlineMs;
  for (const port of ports) {
    while (!(await canConnect(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        await stop();
        throw new Error(`${name} did not start: ${output.trim()}`);
      }
      await pause(50);
    }
  }
  return { stop };
}
