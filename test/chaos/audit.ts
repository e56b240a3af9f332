// The audit half of the chaos judge: every term a Service went through must have
// exactly one decision event on record.

export interface AuditRecord {
  readonly id: string;
  readonly type: string;
}

export interface AuditCheck {
  /** Terms (as `<service>#<term>`) with neither a promoted nor a switchover event. */
  readonly lost: readonly string[];
  /** Terms with both kinds: two different decisions claimed the same term. */
  readonly conflicting: readonly string[];
  /** Events for terms the Service never reached: reported but never written. */
  readonly phantom: readonly string[];
  readonly termChanges: number;
  readonly unique: number;
}

/**
 * Terms only ever grow by one per switch (each is written with a resourceVersion
 * precondition on top of the previous one), so a Service at term T has been through
 * terms 1..T, and each of them must have exactly one promoted-or-switchover event.
 */
export function checkAudit(services: ReadonlyArray<{ name: string; uid: string; term: number }>, events: readonly AuditRecord[]): AuditCheck {
  const ids = new Set(events.map((e) => e.id));
  const lost: string[] = [];
  const conflicting: string[] = [];
  const phantom: string[] = [];
  let termChanges = 0;
  // Transition ids read <service uid>.<term>-<switch time>.<promoted|switchover>.
  const transitions = new Map<string, Set<string>>();
  for (const id of ids) {
    const match = /^(.+)\.(\d+)-(\d+)\.(promoted|switchover)$/.exec(id);
    if (!match) continue;
    const key = `${match[1]}#${match[2]}`;
    const seen = transitions.get(key) ?? new Set<string>();
    seen.add(id);
    transitions.set(key, seen);
  }
  for (const s of services) {
    termChanges += s.term;
    for (let term = 1; term <= s.term; term++) {
      const decisions = transitions.get(`${s.uid}#${term}`)?.size ?? 0;
      if (decisions === 0) lost.push(`${s.name}#${term}`);
      // One guarded write makes a term: two decisions under one term would be two switches.
      if (decisions > 1) conflicting.push(`${s.name}#${term}`);
    }
    for (const key of transitions.keys()) {
      const [uid, term] = key.split('#');
      if (uid === s.uid && Number(term) > s.term) phantom.push(`${s.name}#${term}`);
    }
  }
  return { lost, conflicting, phantom, termChanges, unique: ids.size };
}
