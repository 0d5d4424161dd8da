// What each pick of a pool considered, for the dashboard's waterfall (its pick row) and the pick span:
// per pick, every member's state (usable, already tried by this request, unhealthy, ejected, draining),
// in-flight count and effective weight at that moment, and which one was chosen. The pool's last
// PICK_LOG_SIZE picks live in one fixed set of typed arrays allocated at the pool's first pick and written
// in place, so a pick allocates nothing and pays a few stores per member. A request that finishes after
// PICK_LOG_SIZE later picks of its pool finds its entry overwritten: copy() says false and the waterfall
// shows the policy and the chosen backend only. Only the first PICK_LOG_BACKENDS members are recorded
// (`total` says how many there were).
import type { PoolBackend } from './backend.ts';
import type { Backend } from './types.ts';

/** A power of two (the slot is the sequence number masked). */
export const PICK_LOG_SIZE = 512;
export const PICK_LOG_BACKENDS = 16;

/** A candidate's state at the pick (index into CANDIDATE_STATES). */
export const C_USABLE = 0;
export const C_TRIED = 1;
export const C_UNHEALTHY = 2;
export const C_EJECTED = 3;
export const C_DRAINING = 4;
export const CANDIDATE_STATES = ['usable', 'tried', 'unhealthy', 'ejected', 'draining'] as const;
export type CandidateState = (typeof CANDIDATE_STATES)[number];

/** One pick, copied out of a log (a consumer keeps one per slot and reuses it). */
export class PickSnapshot {
  policy = '';
  /** The pool's members when it picked (the pool's own array: never modified, replaced on change). */
  backends: readonly Backend[] = [];
  /** Members recorded (at most PICK_LOG_BACKENDS) and members in all. */
  count = 0;
  total = 0;
  /** Index of the chosen member; -1: none was usable (the request got 503). */
  chosen = -1;
  /** A filter's preferred backend (sticky) was taken without asking the policy. */
  preferred = false;
  readonly state = new Uint8Array(PICK_LOG_BACKENDS);
  readonly inflight = new Uint32Array(PICK_LOG_BACKENDS);
  readonly weight = new Float32Array(PICK_LOG_BACKENDS);
}

/** A pick as JSON (admin side: allocates). */
export interface PickView {
  policy: string;
  /** The pick honoured a filter's preferred backend (sticky sessions). */
  preferred: boolean;
  /** Members in the pool's order with their state when the pick ran; `chosen` marks the one leased. */
  candidates: { backend: string; state: CandidateState; inflight: number; weight: number; chosen: boolean }[];
  /** Members not recorded (a pool larger than PICK_LOG_BACKENDS). */
  more: number;
}

export function pickView(snapshot: PickSnapshot): PickView {
  const candidates: PickView['candidates'] = [];
  for (let i = 0; i < snapshot.count; i++) {
    candidates.push({ backend: snapshot.backends[i].id, state: CANDIDATE_STATES[snapshot.state[i]] ?? 'usable', inflight: snapshot.inflight[i], weight: Math.round(snapshot.weight[i] * 100) / 100, chosen: i === snapshot.chosen });
  }
  return { policy: snapshot.policy, preferred: snapshot.preferred, candidates, more: snapshot.total - snapshot.count };
}

/** Candidates as one line: `a:80 usable 2/1, b:80 draining 0/1` (in flight / weight), the chosen one marked `*`. */
export function candidatesLine(snapshot: PickSnapshot): string {
  let line = '';
  for (let i = 0; i < snapshot.count; i++) {
    const weight = Math.round(snapshot.weight[i] * 100) / 100;
    line += `${i > 0 ? ', ' : ''}${i === snapshot.chosen ? '*' : ''}${snapshot.backends[i].id} ${CANDIDATE_STATES[snapshot.state[i]]} ${snapshot.inflight[i]}/${weight}`;
  }
  if (snapshot.total > snapshot.count) line += `, +${snapshot.total - snapshot.count} more`;
  return line;
}

export class PickLog {
  /** Picks recorded so far; a pick's sequence number is the value after its record (0: none). */
  seq = 0;
  private policies: string[] = [];
  private members: (readonly Backend[])[] = [];
  private counts = new Uint16Array(0);
  private chosen = new Int16Array(0);
  private preferred = new Uint8Array(0);
  private state = new Uint8Array(0);
  private inflight = new Uint32Array(0);
  private weight = new Float32Array(0);

  /**
   * Records one pick (the request path: stores only, after the first call): `tried` the ids this request
   * tried before (a retry), `now` the pick's time (slow start). Roughly 10–15 ns per member (bench/pool-pick.ts).
   */
  record(policy: string, members: readonly PoolBackend[], chosen: PoolBackend | undefined, preferred: boolean, tried: ReadonlySet<string> | undefined, now: number): void {
    if (this.counts.length === 0) this.allocate();
    const slot = this.seq & (PICK_LOG_SIZE - 1);
    this.seq++;
    const count = members.length < PICK_LOG_BACKENDS ? members.length : PICK_LOG_BACKENDS;
    // once the log has wrapped a slot mostly holds these very references already: a compare instead of a
    // store spares the write barrier
    if (this.policies[slot] !== policy) this.policies[slot] = policy;
    if (this.members[slot] !== members) this.members[slot] = members;
    this.counts[slot] = count;
    this.preferred[slot] = preferred ? 1 : 0;
    let chosenAt = -1;
    const base = slot * PICK_LOG_BACKENDS;
    const state = this.state;
    const inflight = this.inflight;
    const weight = this.weight;
    for (let i = 0; i < count; i++) {
      const backend = members[i];
      if (backend === chosen) chosenAt = i;
      state[base + i] = backend.available ? (tried !== undefined && tried.has(backend.id) ? C_TRIED : C_USABLE) : backend.draining ? C_DRAINING : !backend.healthy ? C_UNHEALTHY : C_EJECTED;
      inflight[base + i] = backend.inflight;
      // slow start only when ramping: effectiveWeight is the configured weight otherwise
      weight[base + i] = backend.slowStartMs === 0 ? backend.weight : backend.effectiveWeight(now);
    }
    this.chosen[slot] = chosenAt;
  }

  /** Copies pick `seq` into `into`; false when there is none or later picks overwrote it. */
  copy(seq: number, into: PickSnapshot): boolean {
    if (seq <= 0 || seq > this.seq || seq <= this.seq - PICK_LOG_SIZE) return false;
    const slot = (seq - 1) % PICK_LOG_SIZE;
    const count = this.counts[slot];
    into.policy = this.policies[slot];
    into.backends = this.members[slot];
    into.count = count;
    into.total = into.backends.length;
    into.chosen = this.chosen[slot];
    into.preferred = this.preferred[slot] === 1;
    const base = slot * PICK_LOG_BACKENDS;
    for (let i = 0; i < count; i++) {
      into.state[i] = this.state[base + i];
      into.inflight[i] = this.inflight[base + i];
      into.weight[i] = this.weight[base + i];
    }
    return true;
  }

  private allocate(): void {
    this.policies = new Array<string>(PICK_LOG_SIZE).fill('');
    this.members = new Array<readonly Backend[]>(PICK_LOG_SIZE).fill([]);
    this.counts = new Uint16Array(PICK_LOG_SIZE);
    this.chosen = new Int16Array(PICK_LOG_SIZE);
    this.preferred = new Uint8Array(PICK_LOG_SIZE);
    this.state = new Uint8Array(PICK_LOG_SIZE * PICK_LOG_BACKENDS);
    this.inflight = new Uint32Array(PICK_LOG_SIZE * PICK_LOG_BACKENDS);
    this.weight = new Float32Array(PICK_LOG_SIZE * PICK_LOG_BACKENDS);
  }
}
