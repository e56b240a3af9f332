// The pod hooks, decided: which HTTP calls a switch asks for, to which pod, with what
// body. The shell (functions/failover/hooks.ts) makes the calls; nothing here does I/O.
//
// The annotations name a port and a path only, never a host: the address is always the
// pod's own IP as the API server reported it, so a Service's hooks can reach nothing
// but the pods the Service selects.
import type { ConfigProblem } from '../../../shared/audit/schemas.js';
import type { Keys } from '../../../shared/keys.js';
import { parseDuration } from './duration.js';
import type { HookCall, HookSettings, HookTarget, Labels, PodView, ServiceView } from './model.js';
import { readRecord } from '../../../shared/record.js';

export const DEFAULT_HOOK_TIMEOUT_MS = 2_000;
export const MAX_HOOK_TIMEOUT_MS = 30_000;
export const DEFAULT_HOOK_RETRIES = 2;
export const MAX_HOOK_RETRIES = 5;
export const MAX_HOOK_PATH_LENGTH = 256;

// RFC 3986 path characters (pchar and "/"); "?" and "#" are not among them, so a hook
// carries no query or fragment. Every "%" must start an escape of two hex digits.
const PATH = /^\/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*$/;
const PORT = /^[1-9][0-9]{0,4}$/;
const RETRIES = /^[0-9]$/;

const TARGET_ACCEPTED = `expected <port>/<path>: a port from 1 to 65535, then an absolute path of URL path characters (no query, no host, no scheme), at most ${MAX_HOOK_PATH_LENGTH} characters, e.g. "8080/promote"`;

function has(values: Labels, key: string): string | undefined {
  return Object.hasOwn(values, key) ? values[key] : undefined;
}

export function parseHookTarget(text: string): HookTarget | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const portText = text.slice(0, slash);
  const path = text.slice(slash);
  if (!PORT.test(portText)) return undefined;
  const port = Number(portText);
  if (port > 65535) return undefined;
  if (path.length > MAX_HOOK_PATH_LENGTH || !PATH.test(path)) return undefined;
  return { port, path };
}

/** The hook settings of a Service; each bad value is pushed onto `problems`. */
export function readHooks(annotations: Labels, keys: Keys, problems: ConfigProblem[]): HookSettings {
  const target = (key: string): HookTarget | undefined => {
    const text = has(annotations, key);
    if (text === undefined) return undefined;
    const parsed = parseHookTarget(text);
    if (parsed === undefined) problems.push({ key, value: text, message: TARGET_ACCEPTED });
    return parsed;
  };
  const promote = target(keys.promoteHook);
  const demote = target(keys.demoteHook);

  let timeoutMs = DEFAULT_HOOK_TIMEOUT_MS;
  const timeoutText = has(annotations, keys.hookTimeout);
  if (timeoutText !== undefined) {
    const parsed = parseDuration(timeoutText);
    if (!parsed.ok) problems.push({ key: keys.hookTimeout, value: timeoutText, message: parsed.message });
    else if (parsed.value <= 0 || parsed.value > MAX_HOOK_TIMEOUT_MS) problems.push({ key: keys.hookTimeout, value: timeoutText, message: 'expected a duration above 0 and at most 30s, e.g. "500ms", "2s"' });
    else timeoutMs = parsed.value;
  }

  let retries = DEFAULT_HOOK_RETRIES;
  const retriesText = has(annotations, keys.hookRetries);
  if (retriesText !== undefined) {
    if (RETRIES.test(retriesText) && Number(retriesText) <= MAX_HOOK_RETRIES) retries = Number(retriesText);
    else problems.push({ key: keys.hookRetries, value: retriesText, message: `expected a whole number from 0 to ${MAX_HOOK_RETRIES}` });
  }

  let demotePolicy: HookSettings['demotePolicy'] = 'continue';
  const policyText = has(annotations, keys.demotePolicy);
  if (policyText === 'abort') demotePolicy = 'abort';
  else if (policyText !== undefined && policyText !== 'continue') problems.push({ key: keys.demotePolicy, value: policyText, message: 'expected "continue" or "abort"' });

  return { promote, demote, timeoutMs, retries, demotePolicy };
}

/** The first hook annotation set, if any (a follower may have none: its leader calls the hooks). */
export function hasHookAnnotations(annotations: Labels, keys: Keys): string | undefined {
  return [keys.promoteHook, keys.demoteHook, keys.hookTimeout, keys.hookRetries, keys.demotePolicy].find((k) => Object.hasOwn(annotations, k));
}

/**
 * One call of a hook on a pod. The address is the pod's first IP as the API server
 * listed it; a pod without one, or one on the host's network (its IP is the node's, and
 * the port would reach whatever the node runs there), gets no call, and `ip` says why.
 */
export function hookCall(
  hooks: HookSettings,
  which: 'promote' | 'demote',
  pod: PodView,
  service: { readonly namespace: string; readonly name: string },
  term: number,
): HookCall | undefined {
  const target = hooks[which];
  if (target === undefined) return undefined;
  const ip = pod.hostNetwork === true ? undefined : pod.ips?.[0];
  return {
    hook: which,
    pod: { name: pod.name, uid: pod.uid },
    ip,
    unreachable: ip !== undefined ? undefined : pod.hostNetwork === true ? 'the pod uses the host network; baton calls no hook there' : 'the pod has no IP in its status',
    port: target.port,
    path: target.path,
    timeoutMs: hooks.timeoutMs,
    retries: hooks.retries,
    body: { service: `${service.namespace}/${service.name}`, term, role: which === 'promote' ? 'active' : 'standby' },
  };
}

/**
 * The promote call the active still lacks: the Service has a promote hook, records this
 * pod as the active of its current term, and does not record that term's promote as
 * acknowledged. Every look asks for it until the pod answers (level-triggered: a promote
 * lost with its instance, refused by a pod that was busy, or withdrawn by a failed demote
 * is made good); the shell spaces the calls out (functions/failover/promotions.ts).
 */
export function promoteDue(hooks: HookSettings, active: PodView, service: ServiceView, keys: Keys): HookCall | undefined {
  const record = readRecord(service, keys);
  if (record.term === undefined || record.activeUid !== active.uid || record.promotedTerm === record.term) return undefined;
  return hookCall(hooks, 'promote', active, service, record.term);
}
