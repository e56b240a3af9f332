// The grammar of the host policy knob (BATON_ROUTE_HOSTS): which hosts each namespace
// may claim, set by a cluster admin in the function's config, never by a tenant. Parsed
// at start-up with the rest of the config; the routes core (functions/routes/core/policy.ts)
// applies the parsed policy to each claim.
//
//   off                                     no policy: any namespace, any host (single tenant)
//   shop=shop.example.com,*.shop.example.com;*=*.{namespace}.apps.example.com
//
// Entries are `namespace=pattern[,pattern…]` separated by ";". A namespace's own entry
// replaces the `*` entry, which applies to every namespace without one. A pattern is a
// host name (that host only) or `*.domain` (any host under domain, at any depth,
// including wildcard hosts under it); `{namespace}` stands for the claiming namespace.
// Unset: no namespace may claim any host.

export const POLICY_VARIABLE = 'BATON_ROUTE_HOSTS';

export type HostPolicy =
  | { readonly kind: 'off' }
  | {
      readonly kind: 'patterns';
      readonly byNamespace: ReadonlyMap<string, readonly string[]>;
      readonly fallback: readonly string[] | undefined;
    };

/** Unset: nothing may be claimed until an admin says what may. */
export const DENY_ALL: HostPolicy = { kind: 'patterns', byNamespace: new Map(), fallback: undefined };
export const POLICY_OFF: HostPolicy = { kind: 'off' };

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// Labels of a pattern: DNS labels, or the {namespace} placeholder standing for one.
const PATTERN_LABEL = /^([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?|\{namespace\})$/;

export type PolicyParse = { readonly ok: true; readonly policy: HostPolicy } | { readonly ok: false; readonly message: string };

function patternProblem(pattern: string): string | undefined {
  const labels = pattern.split('.');
  const rest = labels[0] === '*' ? labels.slice(1) : labels;
  if (rest.length === 0 || !rest.every((label) => PATTERN_LABEL.test(label))) return `"${pattern}" is not a host name or *.domain`;
  if (labels[0] === '*' && rest.length < 2) return `"${pattern}" would allow a whole top-level domain`;
  return undefined;
}

export function parseHostPolicy(text: string): PolicyParse {
  const trimmed = text.trim();
  if (trimmed === 'off') return { ok: true, policy: POLICY_OFF };
  const byNamespace = new Map<string, readonly string[]>();
  let fallback: readonly string[] | undefined;
  for (const entry of trimmed.split(';').map((e) => e.trim()).filter((e) => e !== '')) {
    const at = entry.indexOf('=');
    if (at < 0) return { ok: false, message: `"${entry}" is not namespace=pattern[,pattern…]` };
    const namespace = entry.slice(0, at).trim();
    const patterns = entry.slice(at + 1).split(',').map((p) => p.trim()).filter((p) => p !== '');
    if (namespace !== '*' && !NAMESPACE.test(namespace)) return { ok: false, message: `"${namespace}" is not a namespace name or *` };
    if (byNamespace.has(namespace) || (namespace === '*' && fallback !== undefined)) return { ok: false, message: `namespace ${namespace} has two entries` };
    for (const pattern of patterns) {
      const problem = patternProblem(pattern);
      if (problem) return { ok: false, message: problem };
    }
    if (namespace === '*') fallback = patterns;
    else byNamespace.set(namespace, patterns);
  }
  return { ok: true, policy: { kind: 'patterns', byNamespace, fallback } };
}
