// The one conflict loop of both functions: read → decide → write with a precondition,
// and when the write loses the race (409), read again and decide again. Bounded, with a
// random pause that doubles with each attempt, so that instances racing over one object
// spread out instead of colliding again in step. Conflicts are expected, not errors:
// running out of attempts is an outcome (`conflicted`), which the handlers answer by
// asking for redelivery.
import { ConflictError } from './errors.js';

/** An attempt found its basis stale (it lost a race, or its copy was overtaken): read again. */
export interface Stale {
  readonly outcome: 'stale';
  readonly detail: string;
}

/** Every attempt lost its race. */
export interface Conflicted {
  readonly outcome: 'conflicted';
  readonly detail: string;
}

export const stale = (detail: string): Stale => ({ outcome: 'stale', detail });

export interface RetryPolicy {
  /** Attempts in all, the first included; at least one is made. */
  readonly attempts: number;
  /** What kept changing, for the `conflicted` detail ("service", "routes"). */
  readonly what: string;
  /** The pause before attempt n+1 is uniform in [0, pauseMs * 2^n). Default 10. */
  readonly pauseMs?: number;
  /** Told before each further attempt, with its number and why. */
  readonly onRetry?: (attempt: number, why: string) => void;
  /** For tests: how to wait, and where randomness comes from. */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

const wait = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt(1)`, `attempt(2)`, … until one returns anything but `stale`. Each attempt
 * reads its own basis (the first may start from a copy it was handed; every later one
 * must read afresh). A ConflictError thrown by an attempt counts as `stale`; any other
 * error ends the loop and propagates.
 */
export async function retryOnConflict<T extends { readonly outcome: string }>(policy: RetryPolicy, attempt: (n: number) => Promise<T | Stale>): Promise<T | Conflicted> {
  const attempts = Math.max(1, policy.attempts);
  const pauseMs = policy.pauseMs ?? 10;
  const sleep = policy.sleep ?? wait;
  const random = policy.random ?? Math.random;
  let why = '';
  for (let n = 1; n <= attempts; n++) {
    if (n > 1) {
      policy.onRetry?.(n, why);
      await sleep(random() * pauseMs * 2 ** (n - 1));
    }
    let result: T | Stale;
    try {
      result = await attempt(n);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      result = stale(error.message);
    }
    if (!isStale(result)) return result;
    why = result.detail;
  }
  return { outcome: 'conflicted', detail: `${policy.what} kept changing; gave up after ${attempts} attempts` };
}

function isStale<T extends { readonly outcome: string }>(result: T | Stale): result is Stale {
  return result.outcome === 'stale';
}
