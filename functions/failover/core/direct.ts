// Which of the two modes a Service is in. Selector mode (the default): baton steers the
// Service's own selector and the EndpointSlice controller does the rest. Direct mode:
// the Service has no selector, `<prefix>/pods` names the candidates, and baton writes
// the Service's one EndpointSlice itself (slice.ts says what it holds). Pure.
import type { ConfigProblem } from '../../../shared/audit/schemas.js';
import type { Keys, Labels } from '../../../shared/keys.js';
import type { ServiceView } from './model.js';

export type ServiceMode =
  | { readonly kind: 'selector' }
  | { readonly kind: 'direct'; readonly selector: Labels }
  /** `<prefix>/pods` is there but cannot be used: malformed, or beside a selector of the user's. */
  | { readonly kind: 'invalid-direct'; readonly problem: ConfigProblem };

// A label key: an optional DNS-subdomain prefix and "/", then a name of at most 63
// characters; a value: at most 63 characters of the same alphabet, or empty.
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;
const MAX_TEXT = 4096;

function isLabelKey(key: string): boolean {
  const slash = key.indexOf('/');
  if (slash === -1) return NAME.test(key);
  const prefix = key.slice(0, slash);
  return prefix.length <= 253 && SUBDOMAIN.test(prefix) && NAME.test(key.slice(slash + 1));
}

export type ParsedSelector = { readonly ok: true; readonly selector: Labels } | { readonly ok: false; readonly message: string };

/**
 * An equality-based label selector as kubectl writes one: `key=value` (or `key==value`)
 * requirements joined by commas, no spaces. Set-based forms (`in`, `notin`, `!key`,
 * `!=`) are refused rather than half-understood: the candidates must be exactly the pods
 * the user meant, and a listing by labels can only express equality here.
 */
export function parseLabelSelector(text: string): ParsedSelector {
  const fail = (message: string): ParsedSelector => ({ ok: false, message });
  if (text.length === 0) return fail('expected a label selector such as app=db; it is empty');
  if (text.length > MAX_TEXT) return fail(`expected a label selector of at most ${MAX_TEXT} characters`);
  if (/\s/.test(text)) return fail('expected key=value requirements joined by commas, without spaces');
  const selector: Record<string, string> = {};
  for (const requirement of text.split(',')) {
    if (/[!()]/.test(requirement)) return fail(`"${requirement.slice(0, 80)}": only key=value requirements are accepted (no !=, !key, in or notin)`);
    const match = /^([^=]+)==?([^=]*)$/.exec(requirement);
    if (!match) return fail(`"${requirement.slice(0, 80)}" is not a key=value requirement`);
    const [, key = '', value = ''] = match;
    if (!isLabelKey(key)) return fail(`"${key.slice(0, 80)}" is not a label key (an optional DNS-subdomain prefix and "/", then at most 63 letters, digits, "-", "_" and ".")`);
    if (!VALUE.test(value)) return fail(`"${value.slice(0, 80)}" is not a label value (at most 63 letters, digits, "-", "_" and ".")`);
    if (Object.hasOwn(selector, key) && selector[key] !== value) return fail(`label "${key}" is required to equal two different values`);
    selector[key] = value;
  }
  return { ok: true, selector };
}

/** The Service's own selector, without baton's pod-id key. */
function ownSelector(service: ServiceView, keys: Keys): string[] {
  return Object.keys(service.selector).filter((k) => k !== keys.podId);
}

/**
 * The mode the Service asks for. `<prefix>/pods` beside a selector of the user's is
 * ambiguous (the EndpointSlice controller would route by the selector while baton wrote
 * a slice of its own): it is reported, never guessed.
 */
export function serviceMode(service: ServiceView, keys: Keys): ServiceMode {
  if (!Object.hasOwn(service.annotations, keys.pods)) return { kind: 'selector' };
  const text = service.annotations[keys.pods] ?? '';
  const problem = (message: string): ServiceMode => ({ kind: 'invalid-direct', problem: { key: keys.pods, value: text, message } });
  const own = ownSelector(service, keys);
  if (own.length > 0) {
    return problem(
      `the Service also has spec.selector (${own.join(', ')}); use one or the other: spec.selector for selector mode, or no selector and ${keys.pods} for direct mode`,
    );
  }
  const parsed = parseLabelSelector(text);
  return parsed.ok ? { kind: 'direct', selector: parsed.selector } : problem(parsed.message);
}

export function isDirect(service: ServiceView, keys: Keys): boolean {
  return serviceMode(service, keys).kind === 'direct';
}

/** The deterministic name of baton's slice for a Service (a Service name is at most 63 characters). */
export function sliceName(service: Pick<ServiceView, 'name'>): string {
  return `${service.name}-baton`;
}
