// Rise/fall thresholds for one backend. A backend starts healthy (so a pool serves from the first second)
// but unproven: as in HAProxy, the first failed check before any passed one marks it down at once, so a
// backend that is dead at start-up is not handed traffic for fall × interval. After that it takes `fall`
// consecutive failures to go down and `rise` consecutive passes to come back.

export class HealthThresholds {
  healthy: boolean;
  successes = 0;
  failures = 0;
  private proven: boolean;
  private readonly rise: number;
  private readonly fall: number;

  /** `initiallyHealthy: false` starts it down (e.g. a rebuilt checker for a backend a pool holds as down). */
  constructor(rise: number, fall: number, initiallyHealthy = true) {
    this.rise = rise;
    this.fall = fall;
    this.healthy = initiallyHealthy;
    this.proven = !initiallyHealthy;
  }

  /** Records one check; returns true when `healthy` flipped. */
  record(ok: boolean): boolean {
    const wasProven = this.proven;
    this.proven = true;
    if (ok) {
      this.failures = 0;
      this.successes++;
      if (!this.healthy && this.successes >= this.rise) {
        this.healthy = true;
        return true;
      }
      return false;
    }
    this.successes = 0;
    this.failures++;
    if (this.healthy && (this.failures >= this.fall || !wasProven)) {
      this.healthy = false;
      return true;
    }
    return false;
  }
}
