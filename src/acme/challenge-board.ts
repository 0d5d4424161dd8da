// The challenges a traffic plane answers while an ACME order is validated: http-01 tokens (src/l7 answers
// GET /.well-known/acme-challenge/<token>) and dns-01 TXT values (src/dns answers _acme-challenge.<name>).
// The control plane owns the set (AcmeManager publishes it whole); each traffic plane holds a board and
// replaces its contents with every published set, so a replacement worker gets the same by replay.
// Reads are Map lookups; the maps change only when a set arrives.
import { createSecureContext, type SecureContext } from 'node:tls';

/** What travels from the control plane to the traffic planes (structured-clone and JSON safe). */
export interface ChallengeSet {
  /** http-01: [token, key authorization]. */
  http: [string, string][];
  /** dns-01: [name (no trailing dot, e.g. _acme-challenge.example.test), TXT value]. */
  dns: [string, string][];
  /** tls-alpn-01: [name, challenge certificate PEM, its key PEM] (RFC 8737 3). */
  tls?: [string, string, string][];
}

export const emptyChallengeSet = (): ChallengeSet => ({ http: [], dns: [] });

/** A DNS name → the DNS component's lookup key: the lowercase wire form without the root label. */
export function dnsKeyOf(name: string): string {
  let key = '';
  for (const label of name.toLowerCase().replace(/\.$/, '').split('.')) key += String.fromCharCode(label.length) + label;
  return key;
}

/** One TXT character-string (a dns-01 value is 43 base64url characters, well under 255). */
function txtRdata(value: string): Buffer {
  const bytes = Buffer.from(value, 'latin1');
  return Buffer.concat([Buffer.from([bytes.length]), bytes]);
}

export class ChallengeBoard {
  private http = new Map<string, string>();
  private dns = new Map<string, Buffer[]>();
  private tls = new Map<string, SecureContext>();

  /** Replaces everything answered with `set`. */
  replace(set: ChallengeSet): void {
    this.http = new Map(set.http);
    const dns = new Map<string, Buffer[]>();
    for (const [name, value] of set.dns) {
      const key = dnsKeyOf(name);
      const values = dns.get(key) ?? [];
      values.push(txtRdata(value));
      dns.set(key, values);
    }
    this.dns = dns;
    // built here, once per set: a validation handshake only looks the context up
    this.tls = new Map((set.tls ?? []).map(([name, cert, key]) => [name.toLowerCase(), createSecureContext({ cert, key, minVersion: 'TLSv1.2' })]));
  }

  /** The view src/l7 reads (HttpChallengeSource). */
  readonly httpSource = {
    board: this,
    get size(): number {
      return this.board.http.size;
    },
    keyAuthorization(token: string): string | undefined {
      return this.board.http.get(token);
    },
  };

  /** The view src/tls reads (AlpnChallengeSource). */
  readonly tlsSource = {
    board: this,
    get size(): number {
      return this.board.tls.size;
    },
    context(servername: string): SecureContext | undefined {
      return this.board.tls.get(servername);
    },
  };

  /** The view src/dns reads (ChallengeTxtSource). */
  readonly dnsSource = {
    board: this,
    get size(): number {
      return this.board.dns.size;
    },
    txt(key: string): readonly Buffer[] | undefined {
      return this.board.dns.get(key);
    },
  };
}
