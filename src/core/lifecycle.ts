// Component: the lifecycle every long-lived part follows (STYLE.md rule 4).
// Constructors do no I/O; start() opens sockets and timers; drain() stops taking new work and lets
// in-flight work finish until the deadline; stop() releases everything and works after a partial start.

export interface Component {
  start(): Promise<void>;
  /** Stop accepting new work; resolve when in-flight work is done or the deadline (epoch ms) passes. */
  drain(deadline: number): Promise<void>;
  stop(): Promise<void>;
}

/** Something the admin API can read without reaching into internals. */
export interface HasStatus<T = unknown> {
  status(): T;
}

/** Starts components in order; if one fails, stops the ones already started (in reverse) and rethrows. */
export async function startAll(components: readonly Component[]): Promise<void> {
  const started: Component[] = [];
  try {
    for (const component of components) {
      await component.start();
      started.push(component);
    }
  } catch (err) {
    await stopAll(started);
    throw err;
  }
}

/** Stops in reverse order; a failing stop does not keep the others from stopping. */
export async function stopAll(components: readonly Component[]): Promise<void> {
  for (const component of [...components].reverse()) {
    try {
      await component.stop();
    } catch {
      // stop() must not throw; a component that does still must not keep its siblings alive
    }
  }
}
