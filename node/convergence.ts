// Convergence telemetry: how long from a WorkloadEndpoint of this node (or a route learned over BGP)
// appearing until a dataplane apply that includes it has succeeded. Pure: times are passed in.

export class PendingSince {
  private readonly since = new Map<string, number>();

  /** First sighting counts: a change while still pending does not restart the clock. */
  seen(key: string, now: number): void {
    if (!this.since.has(key)) this.since.set(key, now);
  }

  forget(key: string): void {
    this.since.delete(key);
  }

  /** An apply that started at `startedAt` succeeded at `now`: what was seen before it is programmed. Returns seconds waited. */
  programmed(startedAt: number, now: number): number[] {
    const out: number[] = [];
    for (const [key, t] of this.since) {
      if (t > startedAt) continue;
      out.push((now - t) / 1000);
      this.since.delete(key);
    }
    return out;
  }
}

/** Learned routes by destination and next hops: a route is new when this string is. */
export function learnedKeys(routes: readonly { dst: string; nextHops: readonly string[] }[]): Set<string> {
  return new Set(routes.map((r) => `${r.dst} via ${[...r.nextHops].sort().join(',')}`));
}
