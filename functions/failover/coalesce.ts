// At most one look per Service at a time, and at most one queued behind it. Events are
// hints that only say where to look, so ten events about one Service while a look is
// running need one more look, started after all of them arrived, not ten. This bounds
// what a flood of events (duplicated, replayed or forged) can cost the API server per
// Service, and keeps two looks of one instance from racing each other.

export interface Coalescer<M, T> {
  /**
   * Runs `look(mode)` for `key` now, or joins the look queued behind the running one.
   * Every caller gets the result of a look that started after its call. Modes of joined
   * callers are merged, so the queued look does what the most demanding caller asked.
   */
  run(key: string, mode: M, look: (mode: M) => Promise<T>): Promise<T>;
  /** Keys with a look running. */
  readonly size: number;
}

interface Slot<M, T> {
  running: Promise<T>;
  queued: { mode: M; readonly promise: Promise<T> } | undefined;
}

export function createCoalescer<M, T>(merge: (a: M, b: M) => M): Coalescer<M, T> {
  const slots = new Map<string, Slot<M, T>>();
  const begin = (key: string, slot: Slot<M, T>, promise: Promise<T>): void => {
    slot.running = promise;
    const settle = (): void => {
      // A look queued behind this one takes the slot over; otherwise the key is free.
      if (!slot.queued && slots.get(key) === slot) slots.delete(key);
    };
    promise.then(settle, settle);
  };
  return {
    get size() {
      return slots.size;
    },
    run(key, mode, look) {
      const slot = slots.get(key);
      if (!slot) {
        const promise = look(mode);
        const fresh: Slot<M, T> = { running: promise, queued: undefined };
        slots.set(key, fresh);
        begin(key, fresh, promise);
        return promise;
      }
      if (slot.queued) {
        slot.queued.mode = merge(slot.queued.mode, mode);
        return slot.queued.promise;
      }
      const ended = slot.running.then(
        () => undefined,
        () => undefined,
      );
      const queued: { mode: M; promise: Promise<T> } = {
        mode,
        promise: ended.then(() => {
          slot.queued = undefined;
          const promise = look(queued.mode);
          begin(key, slot, promise);
          return promise;
        }),
      };
      slot.queued = queued;
      return queued.promise;
    },
  };
}
