// Installs the Debian tools that the end-to-end tests drive as real clients, when any is missing.
// Runs before `npm test`; does nothing when all are present, so it is cheap on a prepared machine.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { JEMALLOC_PATHS } from '../src/config/index.ts';

// command on PATH → Debian package that ships it
const tools: Record<string, string> = {
  curl: 'curl',
  dig: 'bind9-dnsutils',
  kdig: 'knot-dnsutils',
  knotd: 'knot',
  nghttp: 'nghttp2-client',
  h2load: 'nghttp2-client',
  openssl: 'openssl',
  chromium: 'chromium',
  ip: 'iproute2',
  ping: 'iputils-ping',
  traceroute: 'traceroute',
  wrk: 'wrk',
  nginx: 'nginx-light',
  dnsperf: 'dnsperf',
  'systemd-analyze': 'systemd',
  python3: 'python3-minimal', // test/support/ports.ts holds a bound, not listening port with it
  haproxy: 'haproxy', // test/e2e/listener: an L4 load balancer sending PROXY protocol headers
  'redis-server': 'redis-server', // test/e2e/filters/rate-limit: a private Redis stopped and started mid-test
  squid: 'squid', // test/e2e/forward: the reference forward proxy the same cases run against
  gtlsclient: 'ngtcp2-client', // test/e2e/h3: ngtcp2's HTTP/3 client (GnuTLS build)
};

// header → Debian package: what the HTTP/3 addon (src/h3/native) compiles against; test/e2e/h3 needs it built
const headers: Record<string, string> = {
  '/usr/include/ngtcp2/ngtcp2.h': 'libngtcp2-dev',
  '/usr/include/ngtcp2/ngtcp2_crypto_gnutls.h': 'libngtcp2-crypto-gnutls-dev',
  '/usr/include/nghttp3/nghttp3.h': 'libnghttp3-dev',
  '/usr/include/gnutls/gnutls.h': 'libgnutls28-dev',
};

// jemalloc, which workers preload (runtime.allocator) and the tests check: found where the runtime looks
const hasJemalloc = JEMALLOC_PATHS.some((file) => existsSync(file));

const has = (command: string): boolean => spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
const missing = [
  ...new Set([
    ...Object.entries(tools).filter(([command]) => !has(command)).map(([, pkg]) => pkg),
    ...(hasJemalloc ? [] : ['libjemalloc2']),
    ...Object.entries(headers).filter(([file]) => !existsSync(file)).map(([, pkg]) => pkg),
  ]),
];

if (missing.length > 0) {
  if (process.getuid?.() !== 0) {
    console.error(`test tools missing (${missing.join(', ')}); install them with: sudo apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
  console.log(`installing test tools: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'inherit', env });
}

// the HTTP/3 addon: built by `npm install` when the libraries were there; built now when they just came.
// A build that fails here fails `npm test` (the HTTP/3 tests would only fail later, less clearly).
const h3Addon = new URL('../src/h3/native/build/Release/switchyard_h3.node', import.meta.url);
if (!existsSync(h3Addon)) {
  execFileSync(process.execPath, [new URL('../src/h3/native/build.cjs', import.meta.url).pathname], { stdio: 'inherit' });
  if (!existsSync(h3Addon)) {
    console.error('the HTTP/3 addon (src/h3/native) did not build: test/e2e/h3 cannot run');
    process.exit(1);
  }
}
