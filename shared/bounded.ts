// A Map that forgets its oldest entries beyond a limit: what the functions use to
// remember their own writes, so that memory stays bounded however many objects churn.

export interface BoundedMap<V> {
  get(key: string): V | undefined;
  has(key: string): boolean;
  /** Sets the value and makes the key the newest. */
  set(key: string, value: V): void;
  readonly size: number;
}

export function boundedMap<V>(limit: number): BoundedMap<V> {
  const map = new Map<string, V>();
  return {
    get: (key) => map.get(key),
    has: (key) => map.has(key),
    set(key, value) {
      map.delete(key);
      map.set(key, value);
      // Oldest first: a Map iterates in insertion order.
      while (map.size > limit) map.delete(map.keys().next().value!);
    },
    get size() {
      return map.size;
    },
  };
}
