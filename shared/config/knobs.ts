// Every knob baton reads from the environment, described once: the same table drives
// validation, defaults, error messages and `describeConfig()` for the README/CLI.
import { isIP } from 'node:net';
import { z } from 'zod';
import { LOG_LEVELS } from '../log.js';
import { parseHostPolicy, type HostPolicy } from './host-policy.js';
import { ceOverrides, commaList, DNS_LABEL, integer, isDnsSubdomain, SERVICE_ACCOUNT_SUBJECT } from './values.js';

export const AUTH_MODES = ['off', 'verify', 'require'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export interface ConfigKnob {
  readonly name: string;
  /** undefined: unset unless given. */
  readonly default: string | undefined;
  readonly meaning: string;
  readonly accepted: string;
}

interface Knob<T> extends ConfigKnob {
  readonly schema: z.ZodType<T, string>;
}

const knob = <T>(spec: Knob<T>): Knob<T> => spec;

export const KNOBS = {
  port: knob({
    name: 'PORT',
    default: '8080',
    meaning: 'HTTP port the function listens on (Knative sets it).',
    accepted: 'an integer from 1 to 65535',
    schema: integer(1, 65535),
  }),
  host: knob({
    name: 'BATON_HOST',
    // Unset, Node binds every address: `::` (which also takes IPv4) where the node has
    // IPv6, `0.0.0.0` where it has not. A fixed 0.0.0.0 would leave the kubelet's probes
    // unanswered on an IPv6-only cluster.
    default: undefined,
    meaning: 'Address to bind; unset binds every IPv6 and IPv4 address; 127.0.0.1 keeps a local run private.',
    accepted: 'an IPv4/IPv6 address or a hostname',
    schema: z
      .string()
      .refine((value) => isIP(value) !== 0 || (value.length <= 253 && /^[A-Za-z0-9]([-.A-Za-z0-9]*[A-Za-z0-9])?$/.test(value))),
  }),
  prefix: knob({
    name: 'BATON_PREFIX',
    default: 'baton.dev',
    meaning: 'Prefix of every label and annotation baton reads or writes (<prefix>/mode, ...).',
    accepted: 'a DNS subdomain, e.g. baton.dev (lowercase, at most 253 characters)',
    schema: z.string().refine(isDnsSubdomain),
  }),
  sink: knob({
    name: 'K_SINK',
    default: undefined,
    meaning: 'Where audit CloudEvents are sent (injected by SinkBinding); unset: audit events are only logged.',
    accepted: 'an absolute http:// or https:// URL',
    schema: z.string().refine((value) => {
      if (!URL.canParse(value)) return false;
      const url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
    }),
  }),
  logLevel: knob({
    name: 'LOG_LEVEL',
    default: 'info',
    meaning: 'Minimum level of the JSON log lines on stdout.',
    accepted: `one of ${LOG_LEVELS.join(', ')}`,
    schema: z
      .string()
      .transform((value) => value.toLowerCase())
      .pipe(z.enum(LOG_LEVELS)),
  }),
  namespaces: knob({
    name: 'BATON_NAMESPACES',
    default: '',
    meaning: 'Namespaces whose Services baton manages; empty: all namespaces.',
    accepted: 'comma-separated namespace names (lowercase letters, digits and "-", at most 63 characters each)',
    schema: commaList
      .pipe(z.array(z.string().regex(DNS_LABEL, { error: (issue) => `"${String(issue.input)}" is not a namespace name` })))
      .transform((names) => [...new Set(names)]),
  }),
  apiTimeoutMs: knob({
    name: 'BATON_API_TIMEOUT_MS',
    default: '5000',
    meaning: 'Timeout of each Kubernetes API request, in milliseconds.',
    accepted: 'an integer from 100 to 60000',
    schema: integer(100, 60_000),
  }),
  conflictRetries: knob({
    name: 'BATON_CONFLICT_RETRIES',
    default: '5',
    meaning: 'How often a write that lost a resourceVersion race is re-read and retried before answering 503.',
    accepted: 'an integer from 0 to 20',
    schema: integer(0, 20),
  }),
  indexRefreshMs: knob({
    name: 'BATON_INDEX_REFRESH_MS',
    default: '30000',
    meaning: 'How often the in-memory index of opted-in Services is re-listed, in milliseconds.',
    accepted: 'an integer from 1000 to 3600000',
    schema: integer(1_000, 3_600_000),
  }),
  resyncIntervalMs: knob({
    name: 'BATON_RESYNC_INTERVAL_MS',
    default: '30000',
    meaning: 'Period of the level-triggered resync when it runs locally (not as a PingSource), in milliseconds.',
    accepted: 'an integer from 1000 to 86400000',
    schema: integer(1_000, 86_400_000),
  }),
  bodyLimit: knob({
    name: 'BATON_BODY_LIMIT',
    default: '1048576',
    meaning: 'Largest accepted request body, in bytes; larger deliveries get 413.',
    accepted: 'an integer from 1024 to 10485760',
    schema: integer(1_024, 10_485_760),
  }),
  roleLabels: knob({
    name: 'BATON_ROLE_LABELS',
    default: 'false',
    meaning: 'Also label candidate pods <prefix>/role: active|standby, for humans; off, a left-over role label is removed.',
    accepted: 'true or false',
    schema: z.enum(['true', 'false']).transform((value) => value === 'true'),
  }),
  eventSource: knob({
    name: 'BATON_EVENT_SOURCE',
    default: undefined,
    meaning: 'CloudEvent source attribute of audit events; unset: baton.dev/failover (failover, resync) or baton.dev/routes.',
    accepted: 'a URI reference without spaces, e.g. baton.dev/failover',
    schema: z.string().refine((value) => /^\S+$/.test(value) && URL.canParse(value, 'http://base.invalid/')),
  }),
  ingressClass: knob({
    name: 'BATON_INGRESS_CLASS',
    default: undefined,
    meaning: 'ingressClassName of the Ingresses the routes function writes; unset: the cluster\'s default IngressClass.',
    accepted: 'an IngressClass name (DNS subdomain)',
    schema: z.string().refine(isDnsSubdomain),
  }),
  routeHosts: knob({
    name: 'BATON_ROUTE_HOSTS',
    default: undefined,
    meaning: 'Hosts each namespace may claim for routes, set by a cluster admin; unset: none. `off` lets any namespace claim any host (single-tenant clusters).',
    accepted: '`off`, or `namespace=pattern[,pattern…]` entries separated by ";" (namespace `*` for the rest; a pattern is a host or *.domain, `{namespace}` stands for the namespace)',
    schema: z.string().transform((text, ctx): HostPolicy => {
      const parsed = parseHostPolicy(text);
      if (parsed.ok) return parsed.policy;
      ctx.addIssue({ code: 'custom', message: parsed.message });
      return z.NEVER;
    }),
  }),
  ceExtensions: knob({
    name: 'K_CE_OVERRIDES',
    default: '{}',
    meaning: 'CloudEvent overrides injected by SinkBinding; its extensions are added to every audit event.',
    accepted: 'JSON like {"extensions":{"name":"value"}} with lowercase alphanumeric names and string values',
    schema: ceOverrides,
  }),
  authMode: knob({
    name: 'BATON_AUTH',
    default: 'off',
    meaning:
      'Sender authentication with Knative OIDC tokens: off; verify (a delivery that carries a bearer token must carry a valid one); require (no valid token, 401).',
    accepted: `one of ${AUTH_MODES.join(', ')}`,
    schema: z.enum(AUTH_MODES),
  }),
  authAudience: knob({
    name: 'BATON_AUTH_AUDIENCE',
    default: undefined,
    meaning: "Audience a delivery's token must be issued for (the function's own, as Knative names it); required unless BATON_AUTH=off.",
    accepted: 'a string without spaces, at most 1000 characters',
    schema: z.string().regex(/^\S{1,1000}$/),
  }),
  authSubjects: knob({
    name: 'BATON_AUTH_SUBJECTS',
    default: '',
    meaning: 'Senders allowed when BATON_AUTH is on, by token subject; empty: any ServiceAccount of the cluster with a token for the audience.',
    accepted: 'comma-separated subjects of the form system:serviceaccount:<namespace>:<name>',
    schema: commaList
      .pipe(z.array(z.string().regex(SERVICE_ACCOUNT_SUBJECT, { error: (issue) => `"${String(issue.input)}" is not system:serviceaccount:<namespace>:<name>` })))
      .transform((subjects) => [...new Set(subjects)]),
  }),
  metrics: knob({
    name: 'BATON_METRICS',
    default: 'on',
    meaning: 'Prometheus metrics at GET /metrics (see docs/observability.md); off: no metrics and no such route.',
    accepted: 'on or off',
    schema: z.enum(['on', 'off']).transform((value) => value === 'on'),
  }),
  metricsPort: knob({
    name: 'BATON_METRICS_PORT',
    default: undefined,
    meaning: "Serve /metrics on this port of its own instead of the function's port (which then has no /metrics), e.g. to let a NetworkPolicy admit only Prometheus there.",
    accepted: 'an integer from 1 to 65535, other than PORT',
    schema: integer(1, 65535),
  }),
  metricsServiceLabels: knob({
    name: 'BATON_METRICS_SERVICE_LABELS',
    default: 'false',
    meaning: 'Add namespace and service labels to per-Service metrics (switches, completion, routes); off keeps the series count fixed whatever the number of Services.',
    accepted: 'true or false',
    schema: z.enum(['true', 'false']).transform((value) => value === 'true'),
  }),
} as const;
