// Folds the speaker's RouteSink events into the current set of learned routes (one best path per
// prefix, as the speaker already selected it), for the calc graph to read.
import { prefixToString, type RouteSink, type RouteSinkEvent } from '../../bgp/types.js';
import type { LearnedRoute } from './types.js';

export class LearnedRoutes implements RouteSink {
  private readonly routes = new Map<string, LearnedRoute>();
  private listener: (() => void) | undefined;

  /** Called after each change, so the owner can schedule a recalculation. */
  onChange(fn: () => void): void {
    this.listener = fn;
  }

  onRoute(event: RouteSinkEvent): void {
    const dst = prefixToString(event.prefix);
    if (event.type === 'install') {
      if (event.nextHops.length === 0) return;
      this.routes.set(dst, { dst, nextHops: [...event.nextHops] });
    } else if (!this.routes.delete(dst)) {
      return;
    }
    this.listener?.();
  }

  list(): LearnedRoute[] {
    return [...this.routes.values()];
  }
}
