// Per-request latency of HTTP/3 and HTTP/2 on the same listener, measured by the same client: headless
// Chromium (playwright-core). Debian's gtlsclient reports no per-request times and Debian's h2load has no
// HTTP/3, so this is the one client that speaks both and can time each request.
//   h3 — a browser forced to QUIC for the listener's origin (--origin-to-force-quic-on)
//   h2 — a second browser with QUIC disabled (the listener's Alt-Svc would otherwise move it to h3)
// Each page runs `inFlight` fetch loops for `seconds`, timing every fetch with performance.now() from the
// call to the end of its body; the page sorts the times and hands back the count and percentiles only.
// Every run proves its protocol: each resource entry the page recorded must name it (nextHopProtocol).
// The browsers are pinned with taskset through a wrapper script, so every Chromium process (browser,
// network service, renderer) inherits the CPU list.
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export interface BrowserRun {
  requests: number;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  /** The distinct nextHopProtocol values of the run's resource entries (one: the protocol asked for). */
  protocols: string[];
}

export interface BrowserPair {
  run(protocol: 'h2' | 'h3', seconds: number, inFlight: number): Promise<BrowserRun>;
  version: string;
  close(): Promise<void>;
}

const chromiumPath = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((file) => existsSync(file));
const chromiumArgs = ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

// Evaluated in the page (a string: bench/ has no DOM types). Resource entries past the buffer's size (250
// by default) are dropped, which is fine: the entries kept are this run's first ones, enough to name the
// protocol; they are cleared before every run.
const loops = (seconds: number, inFlight: number): string => `(async () => {
  performance.clearResourceTimings();
  const times = [];
  const end = performance.now() + ${seconds * 1000};
  const loop = async () => {
    while (performance.now() < end) {
      const started = performance.now();
      const response = await fetch('/', { cache: 'no-store' });
      await response.arrayBuffer();
      if (response.status !== 200) throw new Error('status ' + response.status);
      times.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: ${inFlight} }, loop));
  const elapsed = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  const at = (q) => times[Math.min(times.length - 1, Math.floor(q * times.length))];
  const protocols = [...new Set(performance.getEntriesByType('resource').map((e) => e.nextHopProtocol))];
  return { requests: times.length, requestsPerSecond: times.length / elapsed, p50: at(0.5), p99: at(0.99), protocols };
})()`;

/**
 * Two headless Chromium browsers on `cpus`, each with one page open at https://127.0.0.1:port/ (the
 * navigation opens the connection the fetches reuse). `certFile`: the listener's certificate, trusted by
 * its public key hash (QUIC in Chromium ignores --ignore-certificate-errors).
 */
export async function openBrowsers(options: { port: number; certFile: string; cpus: string; dir: string }): Promise<BrowserPair> {
  if (!chromiumPath) throw new Error('chromium is not installed (scripts/ensure-test-tools.ts installs it: apt-get install -y chromium)');
  const wrapper = path.join(options.dir, 'chromium-pinned.sh');
  await writeFile(wrapper, `#!/bin/sh\nexec taskset -c ${options.cpus} ${chromiumPath} "$@"\n`);
  await chmod(wrapper, 0o755);
  const leaf = new X509Certificate(await readFile(options.certFile));
  const spki = createHash('sha256').update(leaf.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  const origin = `127.0.0.1:${options.port}`;
  const trust = `--ignore-certificate-errors-spki-list=${spki}`;
  const browsers: Browser[] = [];
  const pages = new Map<'h2' | 'h3', Page>();
  try {
    for (const [protocol, args] of [
      ['h3', ['--enable-quic', `--origin-to-force-quic-on=${origin}`, trust]],
      ['h2', ['--disable-quic', trust]],
    ] as const) {
      const browser = await chromium.launch({ executablePath: wrapper, args: [...chromiumArgs, ...args] });
      browsers.push(browser);
      const page = await browser.newPage();
      const response = await page.goto(`https://${origin}/`);
      if (response?.status() !== 200) throw new Error(`${protocol} page: status ${response?.status()}`);
      const navigated = await page.evaluate<string>('performance.getEntriesByType("navigation")[0].nextHopProtocol');
      if (navigated !== protocol) throw new Error(`the ${protocol} page loaded over ${navigated}`);
      pages.set(protocol, page);
    }
  } catch (error) {
    await Promise.all(browsers.map((browser) => browser.close()));
    throw error;
  }
  return {
    version: browsers[0].version(),
    async run(protocol, seconds, inFlight) {
      const result = await pages.get(protocol)!.evaluate<BrowserRun>(loops(seconds, inFlight));
      if (result.protocols.length !== 1 || result.protocols[0] !== protocol) throw new Error(`the ${protocol} run went over ${result.protocols.join(', ')}`);
      return result;
    },
    async close() {
      await Promise.all(browsers.map((browser) => browser.close()));
    },
  };
}
