// The jwt filter's refusals (RFC 6750 section 3): a request without a token gets the bare challenge, a
// request with a bad one `error="invalid_token"` and a fixed description. Built once per filter and reused,
// so a refusal allocates nothing; descriptions never echo the token or claim values.
import type { LocalResponse } from '../types.ts';

export type Refusal = 'missing' | 'too_large' | 'malformed' | 'expired' | 'not_yet_valid' | 'algorithm' | 'no_key' | 'signature' | 'claims' | 'unsupported';

const descriptions: Record<Exclude<Refusal, 'missing'>, string> = {
  too_large: 'the token is too large',
  malformed: 'the token is malformed',
  expired: 'the token has expired',
  not_yet_valid: 'the token is not valid yet',
  algorithm: 'the token algorithm is not accepted',
  no_key: 'no key matches the token',
  signature: 'the token signature does not verify',
  claims: 'the token claims are not accepted',
  unsupported: 'the token uses an unsupported form',
};

function refusal(challenge: string, body: string): LocalResponse {
  return Object.freeze({ status: 401, headers: Object.freeze(['www-authenticate', challenge, 'cache-control', 'no-store']), body });
}

export class JwtAnswers {
  private readonly byReason: ReadonlyMap<Refusal, LocalResponse>;
  /** The access log's reason code of each answer (`jwt:expired`, …). */
  private readonly codes = new Map<LocalResponse, string>();
  private readonly claimAnswers = new Map<string, LocalResponse>();
  private readonly realm: string;
  /** The key source could not be reached (JWKS fetch failed): not the client's fault. */
  readonly unavailable: LocalResponse = Object.freeze({ status: 503, headers: Object.freeze(['retry-after', '5', 'cache-control', 'no-store']), body: 'jwt: verification keys unavailable\n' });

  constructor(realm: string) {
    this.realm = realm;
    const answers = new Map<Refusal, LocalResponse>([['missing', refusal(`Bearer realm="${realm}"`, 'unauthorized: a bearer token is required\n')]]);
    for (const [reason, description] of Object.entries(descriptions)) {
      answers.set(reason as Refusal, refusal(`Bearer realm="${realm}", error="invalid_token", error_description="${description}"`, `unauthorized: ${description}\n`));
    }
    this.byReason = answers;
    for (const [reason, answer] of answers) this.codes.set(answer, `jwt:${reason}`);
    this.codes.set(this.unavailable, 'jwt:keys_unavailable');
  }

  /** The reason code of one of these answers. */
  codeOf(answer: LocalResponse): string {
    return this.codes.get(answer) ?? 'jwt:claims';
  }

  of(reason: Refusal): LocalResponse {
    return this.byReason.get(reason)!;
  }

  /**
   * A failed claim check names the claim (iss, aud, a required claim: names from jose or the config, a
   * small set), so the client learns what to fix; answers are kept per claim name.
   */
  claim(name: string): LocalResponse {
    let answer = this.claimAnswers.get(name);
    if (answer === undefined) {
      if (!/^[\w.:-]{1,64}$/.test(name) || this.claimAnswers.size >= 64) return this.of('claims');
      const description = `the ${name} claim is not accepted`;
      answer = refusal(`Bearer realm="${this.realm}", error="invalid_token", error_description="${description}"`, `unauthorized: ${description}\n`);
      this.claimAnswers.set(name, answer);
    }
    return answer;
  }
}
