// Debian's pebble (the ACME test CA) as a real process on loopback, for the tls.acme tests: its own TLS
// certificate (a CA made here with openssl, the file `tls.acme.ca` names), short-lived certificates
// (certificateValidityPeriod) so renewal happens within a test, DNS lookups sent to the edge's own DNS
// (-dnsserver), http-01 validations sent to the edge's http listener (httpPort) and tls-alpn-01 ones to
// its https listener (tlsPort).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Agent, request } from 'undici';
import { lastFreePort, retryOnAddressInUse } from './ports.ts';
import { readFile } from 'node:fs/promises';

export interface PebbleOptions {
  /** Where its config and certificates go (a test's temp dir). */
  dir: string;
  /** The edge's DNS (UDP and TCP), which pebble asks for A/AAAA and TXT records. */
  dnsPort: number;
  /** The edge's http listener: pebble's http-01 validations connect to this port. */
  httpPort: number;
  /** The edge's https listener that answers tls-alpn-01 (a free port when absent). */
  tlsPort?: number;
  /** Lifetime of the certificates it issues, in seconds. */
  validitySeconds: number;
  /** Put in the issued certificates' Authority Information Access (pebble runs no responder itself). */
  ocspResponderUrl?: string;
}

export interface RunningPebble {
  directory: string;
  /** The CA file for pebble's own TLS (what tls.acme.ca names). */
  caFile: string;
  /** Pebble's issuing root, PEM (fetched from the management API's /roots/0). */
  issuingRoot(): Promise<string>;
  /** A management API document: /intermediates/0, /intermediate-keys/0, … */
  management(pathname: string): Promise<string>;
  output: string[];
  stop(): Promise<void>;
}

function openssl(args: string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => execFile('openssl', args, { cwd }, (err, _out, stderr) => (err ? reject(new Error(`openssl ${args[0]}: ${stderr}`)) : resolve())));
}

/** A CA and a certificate for 127.0.0.1 / localhost signed by it: pebble's HTTPS identity. */
async function pebbleCertificate(dir: string): Promise<{ caFile: string; cert: string; key: string }> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl(['req', '-x509', ...ec, '-keyout', 'pebble-ca.key', '-out', 'pebble-ca.pem', '-days', '2', '-subj', '/CN=pebble test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign'], dir);
  await openssl(['req', '-x509', ...ec, '-keyout', 'pebble.key', '-out', 'pebble.pem', '-days', '2', '-subj', '/CN=localhost', '-CA', 'pebble-ca.pem', '-CAkey', 'pebble-ca.key', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-addext', 'basicConstraints=critical,CA:FALSE', '-addext', 'extendedKeyUsage=serverAuth'], dir);
  return { caFile: path.join(dir, 'pebble-ca.pem'), cert: path.join(dir, 'pebble.pem'), key: path.join(dir, 'pebble.key') };
}

async function startOnce(options: PebbleOptions, files: { caFile: string; cert: string; key: string }): Promise<RunningPebble> {
  const [port, managementPort, tlsPort] = [await lastFreePort(), await lastFreePort(), options.tlsPort ?? (await lastFreePort())];
  const configFile = path.join(options.dir, 'pebble-config.json');
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${port}`,
      managementListenAddress: `127.0.0.1:${managementPort}`,
      certificate: files.cert,
      privateKey: files.key,
      httpPort: options.httpPort,
      tlsPort,
      ocspResponderURL: options.ocspResponderUrl ?? '',
      externalAccountBindingRequired: false,
      certificateValidityPeriod: options.validitySeconds,
    },
  };
  await writeFile(configFile, JSON.stringify(config));
  const child: ChildProcess = spawn('pebble', ['-config', configFile, '-dnsserver', `127.0.0.1:${options.dnsPort}`], {
    env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_VA_ALWAYS_VALID: '0', PEBBLE_AUTHZREUSE: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pebble did not start within 10 s: ${output.join('\n')}`)), 10_000);
    const onLine = (line: string) => {
      output.push(line);
      if (line.includes('Listening on:')) {
        clearTimeout(timer);
        resolve();
      }
    };
    createInterface({ input: child.stdout! }).on('line', onLine);
    createInterface({ input: child.stderr! }).on('line', onLine);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`pebble exited (${code}): ${output.join('\n')}`));
    });
  });
  const ca = await readFile(files.caFile);
  const agent = new Agent({ connect: { ca } });
  const management = async (pathname: string): Promise<string> => (await request(`https://127.0.0.1:${managementPort}${pathname}`, { dispatcher: agent })).body.text();
  return {
    directory: `https://127.0.0.1:${port}/dir`,
    caFile: files.caFile,
    output,
    issuingRoot: () => management('/roots/0'),
    management,
    async stop() {
      await agent.close();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

/** Starts pebble on fresh loopback ports (again, with others, when one was taken meanwhile). */
export async function startPebble(options: PebbleOptions): Promise<RunningPebble> {
  const files = await pebbleCertificate(options.dir);
  return retryOnAddressInUse(() => startOnce(options, files));
}
