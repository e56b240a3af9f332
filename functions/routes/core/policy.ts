// Which hosts each namespace may claim, set by a cluster admin in the function's config
// (BATON_ROUTE_HOSTS), never by a tenant: whoever may edit a Service could otherwise
// get baton's ServiceAccount to write an Ingress for any host in the cluster. The
// config parses the policy (shared/config/host-policy.ts); this decides what it allows.
import { POLICY_VARIABLE, type HostPolicy } from '../../../shared/config/host-policy.js';

export type { HostPolicy };

/** The patterns that apply to a namespace, with {namespace} filled in. */
export function patternsFor(policy: HostPolicy, namespace: string): readonly string[] | 'any' {
  if (policy.kind === 'off') return 'any';
  const patterns = policy.byNamespace.get(namespace) ?? policy.fallback ?? [];
  return patterns.map((p) => p.split('.').map((label) => (label === '{namespace}' ? namespace : label)).join('.'));
}

function allows(pattern: string, host: string): boolean {
  if (!pattern.startsWith('*.')) return host === pattern;
  // "*.example.com" covers a.example.com, a.b.example.com and *.example.com: every host
  // any of those can match lies under example.com.
  return host.endsWith(pattern.slice(1));
}

/** undefined when the namespace may claim the host; otherwise why not, naming the policy. */
export function policyRefusal(policy: HostPolicy, namespace: string, host: string): string | undefined {
  const patterns = patternsFor(policy, namespace);
  if (patterns === 'any' || patterns.some((p) => allows(p, host))) return undefined;
  if (patterns.length === 0) return `namespace ${namespace} may claim no host under the host policy (${POLICY_VARIABLE}); a cluster admin adds it there`;
  return `${host} is outside the host policy for namespace ${namespace} (${POLICY_VARIABLE} allows ${patterns.join(', ')})`;
}
