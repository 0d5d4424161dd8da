// switchyard demo (what `npm start` runs): the whole request lifecycle on one machine. Starts the demo's
// application servers (two users and two orders instances, on the backend addresses of
// demo/switchyard.yaml) as child processes, then the edge in this process, prints what runs where and
// three commands to try, and on Ctrl-C drains the edge and stops the instances. An instance that dies is
// announced and started again, with backoff (the edge's health checks route around it meanwhile). State
// (SQLite file, JWT secret, local CA, admin token, logs) lives in the config's data_dir, reused by the next run.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { loadConfigFile, type Config, type LoadedConfig, type MiddlewareSettings } from '../../config/index.ts';
import { ConfigError, messageOf } from '../../core/index.ts';
import { startEdge } from '../../supervisor/index.ts';
import { UsageError, parseCommandArgs, type Command, type CommandIo, type OptionSpec } from '../command.ts';

const projectRoot = path.resolve(import.meta.dirname, '..', '..', '..');
// Built JavaScript when this runs from dist/ (an installed package has no choice: Node does not strip types
// under node_modules; scripts/build-dist.cjs bundles the app), else the TypeScript sources.
const builtApp = path.join(projectRoot, 'dist', 'demo', 'app', 'main.js');
const appEntry = import.meta.filename.endsWith('.js') && existsSync(builtApp) ? builtApp : path.join(projectRoot, 'demo', 'app', 'main.ts');
const defaultConfig = path.join(projectRoot, 'demo', 'switchyard.yaml');
/** An installed package (not a checkout): its own directory may not be writable, so state goes to the cwd. */
const installed = projectRoot.split(path.sep).includes('node_modules');
const demoServices = ['users', 'orders'] as const;

const options: readonly OptionSpec[] = [{ name: 'config', short: 'c', value: 'FILE', default: 'demo/switchyard.yaml', description: 'the demo config to run' }];

interface AppInstance {
  service: (typeof demoServices)[number];
  name: string;
  host: string;
  port: number;
}

/** users-1, users-2, orders-1, … on the addresses the config's pools expect. */
function appInstances(config: Config): AppInstance[] {
  return demoServices.flatMap((service) => {
    const pool = config.pools[service];
    if (!pool) throw new UsageError(`the demo config has no pool ${service}`);
    return pool.backends.map((backend, index) => ({ service, name: `${service}-${index + 1}`, ...backend.address }));
  });
}

/** The page origins the edge's CORS policy allows (exact origins of the config's `cors` filters): the services allow the same. */
function pageOrigins(config: Config): string[] {
  const origins = new Set<string>();
  for (const listener of config.listeners) {
    for (const route of listener.routes ?? []) {
      for (const entry of [...(listener.middleware ?? []), ...(route.middleware ?? [])]) {
        if (entry.name !== 'cors') continue;
        for (const origin of (entry.settings as MiddlewareSettings['cors']).origins) if (origin.kind === 'exact') origins.add(origin.origin);
      }
    }
  }
  return [...origins];
}

interface StartOptions {
  dataDir: string;
  logDir: string;
  corsOrigins: string[];
  /** One line for the user (a restart). */
  say: (line: string) => void;
}

/** Restart delays: 1 s, doubling up to 30 s; an instance that ran for a minute starts again from 1 s. */
const RESTART_FIRST_MS = 1_000;
const RESTART_MAX_MS = 30_000;
const RESTART_RESET_AFTER_MS = 60_000;

/** One application server process; its output goes to <dataDir>/logs/<name>.log. Restarted when it dies. */
class AppChild {
  readonly instance: AppInstance;
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();
  #stopping = false;
  #restartTimer: NodeJS.Timeout | undefined;
  /** Restarts in a row that did not last RESTART_RESET_AFTER_MS. */
  #failures = 0;

  constructor(instance: AppInstance) {
    this.instance = instance;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Resolves once the instance logs "listening"; rejects when it exits first or takes over 20s. */
  async start(options: StartOptions): Promise<void> {
    const { service, name, host, port } = this.instance;
    const logFile = path.join(options.logDir, `${name}.log`);
    const log = createWriteStream(logFile, { flags: 'a' });
    const child = spawn(
      process.execPath,
      [appEntry, '--service', service, '--host', host, '--port', String(port), '--instance', name, '--data-dir', options.dataDir, '--cors-origins', options.corsOrigins.join(',')],
      { stdio: ['ignore', 'pipe', 'pipe'], env: process.env },
    );
    this.#child = child;
    // 'close' (not 'exit'): the last lines of output have been read by then.
    this.#exited = new Promise((resolve) => child.once('close', () => log.end(() => resolve())));
    child.stderr!.pipe(log, { end: false });
    const recent: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} did not start within 20s (see ${logFile})`)), 20_000);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        log.write(`${line}\n`);
        recent.push(line);
        if (recent.length > 5) recent.shift();
        if (line.includes('"msg":"listening"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`${name} could not be started: ${err.message}`));
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        const reason = recent.map((line) => /"err":"([^"]*)"/.exec(line)?.[1]).find(Boolean) ?? `exit code ${code}`;
        reject(new Error(`${name} could not start on ${host}:${port}: ${reason} (see ${logFile}; is an earlier demo still running?)`));
      });
    });
    this.#watch(child, options);
  }

  /** When the running instance dies on its own: say so, and start it again after the backoff. */
  #watch(child: ChildProcess, options: StartOptions): void {
    const startedAt = Date.now();
    child.once('close', (code, signal) => {
      if (this.#stopping) return;
      if (Date.now() - startedAt >= RESTART_RESET_AFTER_MS) this.#failures = 0;
      const how = signal ? `was killed (${signal})` : `exited with code ${code}`;
      options.say(`${this.instance.name} (pid ${child.pid}) ${how}; the edge routes around it`);
      this.#restartLater(options);
    });
  }

  #restartLater(options: StartOptions): void {
    const delay = Math.min(RESTART_FIRST_MS * 2 ** this.#failures, RESTART_MAX_MS);
    this.#failures++;
    options.say(`${this.instance.name}: restarting in ${delay / 1000}s`);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      this.start(options).then(
        () => options.say(`${this.instance.name} is back (pid ${this.pid})`),
        (err: unknown) => {
          if (this.#stopping) return;
          options.say(`${this.instance.name}: restart failed: ${messageOf(err)}`);
          this.#restartLater(options);
        },
      );
    }, delay);
  }

  /** No more restarts: the demo is stopping (a Ctrl-C reaches the instances too, and they exit on it). */
  holdRestarts(): void {
    this.#stopping = true;
    clearTimeout(this.#restartTimer);
  }

  /** SIGTERM (the instance drains), SIGKILL if it has not exited after 10s; no more restarts. */
  async stop(): Promise<void> {
    this.holdRestarts();
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return this.#exited;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.#exited;
    clearTimeout(timer);
  }
}

function banner(loaded: LoadedConfig, apps: AppChild[], dataDir: string): string {
  const { config } = loaded;
  const show = (file: string): string => path.relative(process.cwd(), file) || '.';
  const address = (host: string, port: number): string => `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const web = config.listeners.find((listener) => listener.protocol === 'https');
  const webPort = web?.listen.port ?? 8443;
  const dns = config.dns?.listen[0];
  const dnsAt = dns ? `@${dns.host} -p ${dns.port}` : '@127.0.0.1 -p 5353';
  const database = process.env.DATABASE_URL
    ? `postgres ${new URL(process.env.DATABASE_URL).host}${new URL(process.env.DATABASE_URL).pathname}`
    : `sqlite ${show(path.join(dataDir, 'demo.sqlite'))}  (DATABASE_URL=postgres://… npm start for PostgreSQL)`;
  const lines = ['', 'Switchyard demo is running. Ctrl-C stops everything.', ''];
  if (config.dns) lines.push(`  dns       ${config.dns.listen.map((item) => `${item.transport}://${address(item.host, item.port)}`).join(' ')}  zones ${config.dns.zones.map((zone) => zone.origin).join(' ')}`);
  for (const listener of config.listeners) {
    const tls = listener.tls?.self_signed ? `  local CA ${show(path.join(dataDir, 'tls', 'ca', 'ca.pem'))}` : '';
    lines.push(`  edge      ${listener.protocol}://${address(listener.listen.host, listener.listen.port)}/  (${listener.name})${tls}`);
  }
  if (config.admin) {
    const scheme = config.admin.tls ? 'https' : 'http';
    const tokenFile = show(path.resolve(dataDir, config.admin.token_file));
    lines.push(`  dashboard ${scheme}://${address(config.admin.listen.host, config.admin.listen.port)}/dashboard  (sign in with the admin token: cat ${tokenFile})`);
    lines.push(`  admin     ${scheme}://${address(config.admin.listen.host, config.admin.listen.port)}/api/status  with Authorization: Bearer $(cat ${tokenFile})`);
  }
  for (const service of demoServices) {
    const running = apps.filter((app) => app.instance.service === service);
    lines.push(`  ${service.padEnd(9)} ${running.map(({ instance, pid }) => `${instance.name} ${address(instance.host, instance.port)} (pid ${pid})`).join(', ')}`);
  }
  lines.push(`  database  ${database}`, `  logs      ${show(path.join(dataDir, 'logs'))}/  (the instances' logs)`);
  const access = config.log.access_log;
  if (access === 'stdout' || access === 'stderr') lines.push(`  access    on ${access}`);
  else if (access !== 'off') lines.push(`  access    ${show(path.resolve(loaded.baseDir, access))}  (one line per request: tail -f it)`);
  lines.push('', 'Try:');
  lines.push(`  dig ${dnsAt} api.example.test`);
  lines.push(`  curl --cacert ${show(path.join(dataDir, 'tls', 'ca', 'ca.pem'))} --resolve api.example.test:${webPort}:127.0.0.1 https://api.example.test:${webPort}/api/users`);
  lines.push(`  https://example.test:${webPort}/   (log in as demo / demo; example.test and api.example.test must resolve to 127.0.0.1:`);
  lines.push(`      chromium --host-resolver-rules="MAP example.test 127.0.0.1, MAP api.example.test 127.0.0.1" https://example.test:${webPort}/`);
  lines.push(`      or a line "127.0.0.1 example.test api.example.test" in /etc/hosts; trust the local CA or accept the warning)`, '');
  return lines.join('\n');
}

/**
 * The session-token secret the users service signs with and the edge's `jwt` filter verifies with
 * (`<data_dir>/jwt.secret`): created here on the first run, before the config is loaded, because loading
 * checks that the filter's secret_file is readable. Written as the service would (32 random bytes,
 * base64url, mode 0600; a temporary file linked into place so a concurrent writer never leaves half a file).
 */
async function ensureTokenSecret(configFile: string): Promise<void> {
  const dataDir = parseDocument(await readFile(configFile, 'utf8')).get('data_dir');
  if (typeof dataDir !== 'string') return;
  const dir = path.resolve(path.dirname(path.resolve(configFile)), dataDir);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'jwt.secret');
  if (existsSync(file)) return;
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, randomBytes(32).toString('base64url'), { mode: 0o600 });
  try {
    await link(temporary, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await unlink(temporary);
  }
}

/**
 * An installed package's own directory may not be writable, so its demo keeps its state in
 * ./switchyard-demo-data: a copy of the demo config there, with data_dir, the access log and the token
 * secret inside it and the page's root pointing into the package.
 */
async function installedDemoConfig(dir: string): Promise<string> {
  const doc = parseDocument(await readFile(defaultConfig, 'utf8'));
  doc.set('data_dir', '.');
  doc.setIn(['log', 'access_log'], './logs/access.log');
  const nodes = (node: unknown): { items: unknown[] } | undefined => (node !== null && typeof node === 'object' && 'items' in node ? (node as { items: unknown[] }) : undefined);
  type MapNode = { hasIn(path: string[]): boolean; getIn(path: string[]): unknown; setIn(path: string[], value: unknown): void };
  for (const listener of nodes(doc.get('listeners'))?.items ?? []) {
    for (const route of nodes((listener as MapNode).getIn(['routes']))?.items ?? []) {
      const map = route as MapNode;
      if (map.hasIn(['static', 'root'])) map.setIn(['static', 'root'], path.resolve(path.dirname(defaultConfig), String(map.getIn(['static', 'root']))));
      // aliases (*jwt) share the anchored node: setting it there sets them all
      for (const entry of nodes(map.getIn(['middleware']))?.items ?? []) {
        if (typeof (entry as MapNode).hasIn === 'function' && (entry as MapNode).hasIn(['jwt', 'secret_file'])) (entry as MapNode).setIn(['jwt', 'secret_file'], './jwt.secret');
      }
    }
  }
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, 'switchyard.yaml');
  await writeFile(file, doc.toString());
  return file;
}

async function runDemo(requested: string, io: CommandIo): Promise<number> {
  const configFile = installed && requested === defaultConfig ? await installedDemoConfig(path.resolve('switchyard-demo-data')) : requested;
  await ensureTokenSecret(configFile);
  const loaded = await loadConfigFile(configFile);
  const dataDir = path.resolve(loaded.baseDir, loaded.config.data_dir);
  const logDir = path.join(dataDir, 'logs');
  await mkdir(logDir, { recursive: true });
  const instances = appInstances(loaded.config);
  const children = instances.map((instance) => new AppChild(instance));
  const stopApps = () => Promise.all(children.map((child) => child.stop()));

  // Until the edge owns the signals, Ctrl-C during start-up stops whatever has started.
  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    void stopApps();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let edge: Awaited<ReturnType<typeof startEdge>>;
  try {
    io.stdout.write(`starting ${instances.map((instance) => instance.name).join(', ')} …\n`);
    const say = (line: string): void => void io.stdout.write(`${line}\n`);
    await Promise.all(children.map((child) => child.start({ dataDir, logDir, corsOrigins: pageOrigins(loaded.config), say })));
    if (interrupted) return 130;
    io.stdout.write('starting the edge …\n');
    edge = await startEdge({ configFile });
  } catch (err) {
    await stopApps();
    if (interrupted) return 130;
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  io.stdout.write(`${banner(loaded, children, dataDir)}\n`);

  // The edge stops on SIGINT/SIGTERM (draining in-flight requests); the instances go after it.
  const holdRestarts = (): void => children.forEach((child) => child.holdRestarts());
  process.once('SIGINT', holdRestarts);
  process.once('SIGTERM', holdRestarts);
  const code = await edge.done;
  holdRestarts();
  process.off('SIGINT', holdRestarts);
  process.off('SIGTERM', holdRestarts);
  io.stdout.write('edge stopped; stopping the application servers …\n');
  await stopApps();
  io.stdout.write('demo stopped\n');
  return code;
}

export const command: Command = {
  summary: 'run the demo stack: DNS, the edge, users and orders services, database (npm start)',
  synopsis: '[-c FILE]',
  description: [
    'What npm start runs: starts the demo\'s application servers (two users and two orders instances) as child processes, then the edge (DNS, HTTPS with a local CA, admin API) in this process, and prints what runs where and three commands to try. Ctrl-C drains the edge, then stops the instances.',
    'State (SQLite database, JWT secret, local CA, admin token) lives in the config\'s data_dir and is reused by the next run; every log, the access log included, goes to files under <data_dir>/logs so the terminal keeps the banner. DATABASE_URL=postgres://… uses PostgreSQL instead of SQLite.',
  ],
  arguments: [],
  options,
  examples: ['npm start', 'switchyard demo', 'DATABASE_URL=postgres://demo:demo@127.0.0.1/demo switchyard demo -c demo/switchyard.yaml'],
  async run(args, io) {
    const parsed = parseCommandArgs(args, options);
    if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[0])}`);
    const configFile = path.resolve(parsed.string('config') ?? defaultConfig);
    try {
      return await runDemo(configFile, io);
    } catch (err) {
      if (err instanceof ConfigError) {
        io.stderr.write(`${err.message}\n`);
        return 1;
      }
      io.stderr.write(`switchyard demo: ${messageOf(err)}\n`);
      return 1;
    }
  },
};
