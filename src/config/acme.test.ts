// tls.acme: what a config may ask of the CA is what this edge can prove — refused at load otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfigText } from './index.ts';

const acmeListener = (acme: string, extra = '') => `listeners:
  - { name: web, listen: 127.0.0.1:0, protocol: https, tls: { acme: ${acme} }, routes: [ { respond: { body: ok } } ] }
${extra}`;
const http = '  - { name: plain, listen: 127.0.0.1:0, routes: [ { respond: { body: ok } } ] }\n';
const zone = `dns:
  listen: [udp://127.0.0.1:0]
  zones: [ { origin: example.test., soa: { mname: ns1.example.test., rname: hostmaster.example.test. } } ]
`;
const directory = 'directory: https://127.0.0.1:14000/dir';

function refusal(yaml: string): string {
  try {
    parseConfigText(yaml, 'edge.yaml', '/tmp');
  } catch (err) {
    return (err as Error).message;
  }
  assert.fail(`accepted:\n${yaml}`);
}

test('tls.acme: a wildcard with dns-01 from our zone and a name with http-01 through an http listener load', () => {
  const { config } = parseConfigText(acmeListener(`{ ${directory}, contact: ops@example.test, hosts: [example.test, "*.example.test"], challenges: [dns-01] }`, http + zone), 'edge.yaml', '/tmp');
  const acme = config.listeners[0].tls!.acme!;
  assert.deepEqual(acme.contact, 'mailto:ops@example.test');
  assert.deepEqual(acme.hosts, ['example.test', '*.example.test']);
  parseConfigText(acmeListener(`{ ${directory}, hosts: [www.shop.test] }`, http), 'edge.yaml', '/tmp');
  // tls-alpn-01 is answered by the https listener itself: no http listener or zone needed
  parseConfigText(acmeListener(`{ ${directory}, hosts: [www.shop.test], challenges: [tls-alpn-01] }`), 'edge.yaml', '/tmp');
});

test('tls.acme: refused when no challenge can be answered here, and for what is not implemented', () => {
  assert.match(refusal(acmeListener(`{ ${directory}, hosts: ["*.example.test"], challenges: [http-01] }`, http)), /tls\.acme\.challenges: expected dns-01 among the challenges: \*\.example\.test is a wildcard/);
  assert.match(refusal(acmeListener(`{ ${directory}, hosts: [example.test], challenges: [dns-01] }`, http)), /tls\.acme\.challenges: expected a zone in dns\.zones holding _acme-challenge\.<host> for dns-01, got no zones/);
  assert.match(refusal(acmeListener(`{ ${directory}, hosts: [www.shop.test], challenges: [http-01] }`)), /tls\.acme\.challenges: expected an http listener to answer http-01/);
  assert.match(refusal(acmeListener(`{ ${directory}, hosts: [example.test, www.other.test], challenges: [dns-01] }`, zone)), /tls\.acme\.hosts\[1\]: expected a challenge this edge can answer for www\.other\.test/);
  assert.match(refusal(acmeListener(`{ directory: http://127.0.0.1:14000/dir, hosts: [www.shop.test] }`, http)), /tls\.acme\.directory: expected the https URL of the CA directory/);
  assert.match(refusal(acmeListener(`{ ${directory}, hosts: [localhost] }`, http)), /tls\.acme\.hosts\[0\]: expected a DNS name with at least two labels/);
});
