// Problems that persist are seen again on every event and every sweep; reporting each
// sighting would bury the first report. A key is let through once per window.
export function createRepeatFilter(now: () => number, windowMs = 10 * 60 * 1000, maxKeys = 10_000): (key: string) => boolean {
  const recent = new Map<string, number>();
  return (key) => {
    const t = now();
    const last = recent.get(key);
    if (last !== undefined && t - last < windowMs) return false;
    recent.set(key, t);
    if (recent.size > maxKeys) for (const [k, seen] of recent) if (t - seen >= windowMs) recent.delete(k);
    return true;
  };
}
