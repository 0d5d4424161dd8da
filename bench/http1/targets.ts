// The four things wrk is pointed at: the origin itself, Switchyard, nginx and the plainest Node proxy.
// Each starts as its own process group (pinned with taskset when asked), says how to reach it, lists the
// processes whose memory and CPU count as "the proxy" (and which of them carry the traffic: memory is
// reported per worker, the primary apart), and stops cleanly.
import { access, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { freePort, processTree, runBounded, waitForPort, type ProcessSet } from '../common/index.ts';
import { nginxConf } from './nginx-conf.ts';
import { switchyardConfig, switchyardDefaultsConfig } from './switchyard-config.ts';

export const projectRoot = path.resolve(import.meta.dirname, '..', '..');
const node = process.execPath;

export interface TargetContext {
  processes: ProcessSet;
  /** Per-run temp dir (configs, pid files, logs). */
  dir: string;
  /** host:port of the origin. */
  upstream: string;
  /** Write access logs (to files in dir) or not. */
  accessLog: boolean;
  /** Extra environment for Node-based targets (e.g. NODE_OPTIONS=--cpu-prof). */
  nodeEnv?: NodeJS.ProcessEnv;
}

export interface RunningTarget {
  url: string;
  /** The processes that make up the proxy now (leader and the workers it forked). */
  pids(): Promise<number[]>;
  /** The processes that carry the traffic: the workers the leader forked, or the leader when it forked none. */
  workerPids(): Promise<number[]>;
  /** The leader when it forked workers (Switchyard's primary, nginx's master), else undefined. */
  primaryPid(): Promise<number | undefined>;
  stop(): Promise<void>;
}

/** pids/workerPids/primaryPid of a process tree led by `leader`. */
function treeRoles(leader: number): Pick<RunningTarget, 'pids' | 'workerPids' | 'primaryPid'> {
  const workers = async (): Promise<number[]> => {
    const tree = await processTree(leader);
    return tree.length > 1 ? tree.filter((pid) => pid !== leader) : tree;
  };
  return {
    pids: () => processTree(leader),
    workerPids: workers,
    primaryPid: async () => ((await processTree(leader)).length > 1 ? leader : undefined),
  };
}

export interface Target {
  key: string;
  label: string;
  /** taskset CPU list for the proxy; undefined = not pinned. */
  cpus?: string;
  /** Whether equal-CPU mode applies (not to the origin alone). */
  isProxy: boolean;
  /** undefined when it can run, else why not. */
  unavailable(): Promise<string | undefined>;
  start(context: TargetContext): Promise<RunningTarget>;
}

const exists = (file: string): Promise<boolean> =>
  access(file).then(
    () => true,
    () => false,
  );

export function directTarget(originUrl: () => string): Target {
  return {
    key: 'direct',
    label: 'origin direct',
    isProxy: false,
    unavailable: async () => undefined,
    start: async () => ({ url: originUrl(), pids: async () => [], workerPids: async () => [], primaryPid: async () => undefined, stop: async () => undefined }),
  };
}

export function plainNodeTarget(cpus: string): Target {
  return {
    key: 'plain-node',
    label: 'node:http + undici',
    cpus,
    isProxy: true,
    unavailable: async () => undefined,
    async start(context) {
      const script = path.join(projectRoot, 'bench', 'http1', 'plain-node-proxy.ts');
      const child = context.processes.spawn('plain-node-proxy', [node, script, '--upstream', context.upstream, '--parent', String(process.pid)], {
        cpus,
        env: { ...process.env, ...context.nodeEnv },
      });
      const line = await child.waitForLine((text) => text.startsWith('listening '), 10_000);
      return {
        url: `http://127.0.0.1:${line.split(' ')[1]}/`,
        ...treeRoles(child.pid),
        stop: () => context.processes.stop(child),
      };
    },
  };
}

export function nginxTarget(cpus: string): Target {
  return {
    key: 'nginx',
    label: 'nginx',
    cpus,
    isProxy: true,
    async unavailable() {
      const probe = await runBounded(['nginx', '-v'], 5000).catch(() => undefined);
      return probe && probe.code === 0 ? undefined : 'nginx is not installed (apt-get install nginx-light)';
    },
    async start(context) {
      const dir = path.join(context.dir, 'nginx');
      await mkdir(dir, { recursive: true });
      const port = await freePort();
      const conf = path.join(dir, 'nginx.conf');
      await writeFile(conf, nginxConf({ dir, listenPort: port, upstream: context.upstream, accessLog: context.accessLog ? path.join(dir, 'access.log') : undefined }));
      const base = ['nginx', '-c', conf, '-p', dir, '-e', path.join(dir, 'nginx-error.log')];
      const child = context.processes.spawn('nginx', base, { cpus });
      // Last resort if the harness dies mid-run: nginx's own fast shutdown via its pid file, then the group kill.
      const forget = context.processes.onCleanup(() => process.kill(child.pid, 'SIGTERM'));
      await waitForPort('127.0.0.1', port, 10_000).catch(async (err) => {
        throw new Error(`nginx did not start: ${(err as Error).message}; ${child.stderrTail()} ${await readFile(path.join(dir, 'nginx-error.log'), 'utf8').catch(() => '')}`);
      });
      return {
        url: `http://127.0.0.1:${port}/`,
        ...treeRoles(child.pid),
        async stop() {
          if (await exists(path.join(dir, 'nginx.pid'))) await runBounded([...base, '-s', 'stop'], 10_000);
          await context.processes.stop(child);
          forget();
        },
      };
    },
  };
}

/** `defaults`: the config a user writes who changes nothing (switchyardDefaultsConfig): access log on stdout. */
export function switchyardTarget(options: { workers: number; cpus?: string; defaults?: boolean }): Target {
  return {
    key: options.defaults ? 'switchyard-defaults' : options.workers === 1 ? 'switchyard' : `switchyard-${options.workers}w`,
    label: options.defaults ? 'Switchyard defaults' : options.workers === 1 ? 'Switchyard' : `Switchyard ${options.workers} workers`,
    cpus: options.cpus,
    isProxy: true,
    async unavailable() {
      const missing: string[] = [];
      for (const file of ['src/l7/index.ts', 'src/cli/commands/start.ts', 'bin/switchyard.cjs']) {
        if (!(await exists(path.join(projectRoot, file)))) missing.push(file);
      }
      return missing.length > 0 ? `not available: ${missing.join(' and ')} not written yet` : undefined;
    },
    async start(context) {
      const dir = path.join(context.dir, options.defaults ? 'switchyard-defaults' : `switchyard-${options.workers}w`);
      await mkdir(dir, { recursive: true });
      const port = await freePort();
      const configFile = path.join(dir, 'switchyard.yaml');
      await writeFile(
        configFile,
        options.defaults
          ? switchyardDefaultsConfig({ listenPort: port, upstream: context.upstream })
          : switchyardConfig({ workers: options.workers, listenPort: port, upstream: context.upstream, accessLog: context.accessLog ? path.join(dir, 'access.log') : undefined }),
      );
      // The bin, as `npx switchyard start` runs it: dist/ when it is built and fresh, else the .ts sources.
      const child = context.processes.spawn('switchyard', [node, path.join(projectRoot, 'bin', 'switchyard.cjs'), 'start', '-c', configFile], {
        cpus: options.cpus,
        cwd: dir,
        env: { ...process.env, ...context.nodeEnv },
      });
      try {
        await child.waitForLine((line) => line.includes('switchyard ready'), 20_000);
      } catch (err) {
        await context.processes.stop(child);
        throw err;
      }
      // "ready" may precede the workers' listen; a connect proves the port accepts.
      await waitForPort('127.0.0.1', port, 10_000);
      return {
        url: `http://127.0.0.1:${port}/`,
        ...treeRoles(child.pid),
        stop: () => context.processes.stop(child, 15_000),
      };
    },
  };
}
