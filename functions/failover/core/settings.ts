import { parseDuration } from './duration.js';
import type { Labels, PodProblem, PodView, ServiceSettings, ServiceView } from './model.js';
import type { ConfigProblem } from '../../../shared/audit/schemas.js';
import type { Keys } from '../../../shared/keys.js';
import { readRecord } from '../../../shared/record.js';
import { serviceMode } from './direct.js';
import { hasHookAnnotations, readHooks } from './hooks.js';

export type SettingsResult =
  | { readonly ok: true; readonly settings: ServiceSettings }
  | { readonly ok: false; readonly problems: ConfigProblem[] };

export type SelectorResult =
  | { readonly ok: true; readonly selector: Labels }
  | { readonly ok: false; readonly problems: ConfigProblem[] };

export interface PriorityResult {
  readonly priority: number;
  readonly problem?: PodProblem;
}

export const MAX_PRIORITY = 1_000_000;
const MAX_POD_NAME_LENGTH = 253;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

// Annotations are plain records from the API; hasOwn keeps inherited names such as
// "constructor" from ever counting as present.
export function annotation(values: Labels, key: string): string | undefined {
  return Object.hasOwn(values, key) ? values[key] : undefined;
}

export function readSettings(service: ServiceView, keys: Keys): SettingsResult {
  const problems: ConfigProblem[] = [];

  let failback = false;
  const failbackText = annotation(service.annotations, keys.failback);
  if (failbackText !== undefined) {
    // Only the exact spellings are accepted: "yes" or "True" silently meaning false
    // would leave a user believing failback is on.
    if (failbackText === 'true') failback = true;
    else if (failbackText !== 'false') {
      problems.push({ key: keys.failback, value: failbackText, message: 'expected "true" or "false"' });
    }
  }

  let minSwitchIntervalMs = 0;
  const intervalText = annotation(service.annotations, keys.minSwitchInterval);
  if (intervalText !== undefined) {
    const parsed = parseDuration(intervalText);
    if (parsed.ok) minSwitchIntervalMs = parsed.value;
    else problems.push({ key: keys.minSwitchInterval, value: intervalText, message: parsed.message });
  }

  const switchoverTo = annotation(service.annotations, keys.switchoverTo);
  if (switchoverTo !== undefined && !isPodName(switchoverTo)) {
    problems.push({
      key: keys.switchoverTo,
      value: switchoverTo,
      message: 'expected a pod name (DNS-1123 subdomain: at most 253 lowercase letters, digits, "-" and ".")',
    });
  }

  const follow = annotation(service.annotations, keys.follow);
  if (follow !== undefined && !isServiceName(follow)) {
    problems.push({ key: keys.follow, value: follow, message: 'expected the name of a Service in this namespace (a DNS-1035 label)' });
  } else if (follow === service.name) {
    problems.push({ key: keys.follow, value: follow, message: 'a Service cannot follow itself' });
  }
  if (follow !== undefined && switchoverTo !== undefined) {
    problems.push({ key: keys.switchoverTo, value: switchoverTo, message: `this Service follows ${follow}; request the switchover there` });
  }

  const fence = readFence(service, keys, problems);
  const hooks = readHooks(service.annotations, keys, problems);
  // A follower copies its leader's switches a moment later; calling the hooks twice for
  // one move (and a demote on a copy of the leader's reason) would only confuse the pod.
  const hookKey = follow === undefined ? undefined : hasHookAnnotations(service.annotations, keys);
  if (hookKey !== undefined) problems.push({ key: hookKey, value: service.annotations[hookKey] ?? '', message: `this Service follows ${follow ?? ''}; set the hooks there` });

  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, settings: { failback, minSwitchIntervalMs, switchoverTo, follow, fence, hooks } };
}

function readFence(service: ServiceView, keys: Keys, problems: ConfigProblem[]): ServiceSettings['fence'] {
  const text = annotation(service.annotations, keys.fence);
  if (text === undefined || text === 'off') return 'off';
  if (text === 'evict') return 'evict';
  problems.push({ key: keys.fence, value: text, message: 'expected "evict" or "off"' });
  return 'off';
}

/** True when the Service's baton annotations were written on this very Service (not copied from another). */
export function ownsRecord(service: ServiceView, keys: Keys): boolean {
  return readRecord(service, keys).recordOf === 'this';
}

/** A Service name as the API server accepts it (DNS-1035 label). */
export function isServiceName(text: string): boolean {
  return DNS1035_LABEL.test(text);
}

export function isPodName(text: string): boolean {
  return text.length > 0 && text.length <= MAX_POD_NAME_LENGTH && DNS1123_SUBDOMAIN.test(text);
}

export function readPriority(pod: PodView, keys: Keys): PriorityResult {
  const text = annotation(pod.annotations, keys.priority);
  if (text === undefined) return { priority: 0 };
  // The length bound keeps Number() exact and rejects inputs like "1e3" or " 5".
  if (/^-?[0-9]{1,7}$/.test(text)) {
    const value = Number(text);
    if (Math.abs(value) <= MAX_PRIORITY) return { priority: value === 0 ? 0 : value };
  }
  return {
    priority: 0,
    problem: {
      pod: pod.name,
      key: keys.priority,
      value: text,
      message: `expected a base-10 integer between -${MAX_PRIORITY} and ${MAX_PRIORITY}; using 0`,
    },
  };
}

export function withoutKey(selector: Labels, key: string): Labels {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(selector)) if (k !== key) out[k] = v;
  return out;
}

export type SavedSelector =
  | { readonly kind: 'absent' }
  | { readonly kind: 'valid'; readonly selector: Labels }
  | { readonly kind: 'invalid'; readonly problem: ConfigProblem };

/** The saved copy of the user's selector (shared/record.ts parses it), its damage as a ConfigProblem. */
export function savedSelector(service: ServiceView, keys: Keys): SavedSelector {
  const saved = readRecord(service, keys).originalSelector;
  if (saved.kind !== 'invalid') return saved;
  return { kind: 'invalid', problem: { key: keys.originalSelector, value: saved.text, message: saved.message } };
}

/**
 * The selector the user means. The live selector (minus baton's key) wins over the
 * saved copy because a difference means the user edited it after adoption; the saved
 * copy is only used when the live one has nothing of the user's left in it.
 */
export function userSelector(service: ServiceView, keys: Keys): SelectorResult {
  // Direct mode: the candidates are named by `<prefix>/pods`, not by a selector.
  const mode = serviceMode(service, keys);
  if (mode.kind === 'direct') return { ok: true, selector: mode.selector };
  if (mode.kind === 'invalid-direct') return { ok: false, problems: [mode.problem] };
  // The live selector is enough to act on; a damaged saved copy only matters when
  // nothing else is left, and the next write of baton's record repairs it.
  const current = withoutKey(service.selector, keys.podId);
  if (Object.keys(current).length > 0) return { ok: true, selector: current };
  const saved = savedSelector(service, keys);
  if (saved.kind === 'invalid') return { ok: false, problems: [saved.problem] };
  if (saved.kind === 'valid') return { ok: true, selector: saved.selector };
  return {
    ok: false,
    problems: [
      {
        key: 'spec.selector',
        value: JSON.stringify(service.selector),
        message: `the Service has no selector of its own; baton needs one to find candidate pods (or ${keys.pods} naming them, for direct mode)`,
      },
    ],
  };
}
