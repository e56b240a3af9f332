// Every knob baton reads from the environment, described once: the same table drives
// validation, defaults, error messages and `describeConfig()` for the README/CLI.
import { isIP } from 'node:net';
import { z } from 'zod';
import { LOG_LEVELS, type LogLevel } from '../log.js';
import { ConfigError, type EnvProblem } from './errors.js';
import { parseHostPolicy, type HostPolicy } from '../../functions/routes/core/policy.js';

export interface Config {
  readonly port: number;
  readonly host: string;
  readonly prefix: string;
  readonly sink?: string | undefined;
  readonly logLevel: LogLevel;
  /** Empty means every namespace. */
  readonly namespaces: readonly string[];
  readonly apiTimeoutMs: number;
  readonly conflictRetries: number;
  readonly indexRefreshMs: number;
  readonly resyncIntervalMs: number;
  readonly bodyLimit: number;
  readonly roleLabels: boolean;
  /** Unset: baton.dev/<function>, so subscribers can tell the functions apart. */
  readonly eventSource?: string | undefined;
  /** ingressClassName of the Ingresses the routes function writes; unset: the cluster default. */
  readonly ingressClass?: string | undefined;
  /** Hosts each namespace may claim (routes); unset: none. */
  readonly routeHosts?: HostPolicy | undefined;
  /** Extensions from K_CE_OVERRIDES, added to every audit event. */
  readonly ceExtensions: Readonly<Record<string, string>>;
  /** Sender authentication (shared/http/auth.ts): off, verify a token when one is sent, or require one. */
  readonly authMode: AuthMode;
  /** The audience a delivery's token must be issued for; set whenever authMode is not off. */
  readonly authAudience?: string | undefined;
  /** Allowed token subjects; empty: any subject with a valid token. */
  readonly authSubjects: readonly string[];
  /** Prometheus metrics (shared/metrics/): served at GET /metrics unless off. */
  readonly metrics: boolean;
  /** A port of their own for the metrics; unset: /metrics on `port`. */
  readonly metricsPort?: number | undefined;
  /** namespace and service labels on per-Service figures. */
  readonly metricsServiceLabels: boolean;
}

export const AUTH_MODES = ['off', 'verify', 'require'] as const;
export type AuthMode = (typeof AUTH_MODES)[number];

export interface ConfigKnob {
  readonly name: string;
  /** undefined: unset unless given. */
  readonly default: string | undefined;
  readonly meaning: string;
  readonly accepted: string;
}

// A comma-separated list; blanks around entries and empty entries are dropped.
const commaList = z.string().transform((value) =>
  value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== ''),
);

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// The subject the API server puts in a ServiceAccount token: namespace (a DNS label) and
// name (a DNS subdomain).
const SERVICE_ACCOUNT_SUBJECT = /^system:serviceaccount:([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?):([a-z0-9]([-.a-z0-9]{0,251}[a-z0-9])?)$/;

const isDnsSubdomain = (value: string): boolean =>
  value.length <= 253 && value.split('.').every((label) => DNS_LABEL.test(label));

const integer = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/)
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

// Names the CloudEvents spec reserves; an "extension" by these names would silently
// overwrite a core attribute of every audit event.
const RESERVED_ATTRIBUTES = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'subject',
  'time',
  'datacontenttype',
  'dataschema',
  'data',
  'data_base64',
]);

const ceOverrides = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `not JSON: ${err instanceof Error ? err.message : String(err)}` });
      return z.NEVER;
    }
  })
  .pipe(
    z.object({
      extensions: z
        .record(
          z
            .string()
            .regex(/^[a-z0-9]+$/, 'extension names are lowercase letters and digits')
            .refine((name) => !RESERVED_ATTRIBUTES.has(name), 'extension name is a reserved CloudEvents attribute'),
          z.string(),
        )
        .optional(),
    }),
  )
  .transform((overrides) => overrides.extensions ?? {});

interface Knob<T> extends ConfigKnob {
  readonly schema: z.ZodType<T, string>;
}

const knob = <T>(spec: Knob<T>): Knob<T> => spec;

const KNOBS = {
  port: knob({
    name: 'PORT',
    default: '8080',
    meaning: 'HTTP port the function listens on (Knative sets it).',
    accepted: 'an integer from 1 to 65535',
    schema: integer(1, 65535),
  }),
  host: knob({
    name: 'BATON_HOST',
    default: '0.0.0.0',
    meaning: 'Address to bind; 127.0.0.1 keeps a local run private.',
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

const envSchema = z.object({
  port: KNOBS.port.schema,
  host: KNOBS.host.schema,
  prefix: KNOBS.prefix.schema,
  sink: KNOBS.sink.schema.optional(),
  logLevel: KNOBS.logLevel.schema,
  namespaces: KNOBS.namespaces.schema,
  apiTimeoutMs: KNOBS.apiTimeoutMs.schema,
  conflictRetries: KNOBS.conflictRetries.schema,
  indexRefreshMs: KNOBS.indexRefreshMs.schema,
  resyncIntervalMs: KNOBS.resyncIntervalMs.schema,
  bodyLimit: KNOBS.bodyLimit.schema,
  roleLabels: KNOBS.roleLabels.schema,
  eventSource: KNOBS.eventSource.schema.optional(),
  ingressClass: KNOBS.ingressClass.schema.optional(),
  routeHosts: KNOBS.routeHosts.schema.optional(),
  ceExtensions: KNOBS.ceExtensions.schema,
  authMode: KNOBS.authMode.schema,
  authAudience: KNOBS.authAudience.schema.optional(),
  authSubjects: KNOBS.authSubjects.schema,
  metrics: KNOBS.metrics.schema,
  metricsPort: KNOBS.metricsPort.schema.optional(),
  metricsServiceLabels: KNOBS.metricsServiceLabels.schema,
});

export function describeConfig(): ConfigKnob[] {
  return Object.values(KNOBS).map(({ name, default: fallback, meaning, accepted }) => ({
    name,
    default: fallback,
    meaning,
    accepted,
  }));
}

/** Throws ConfigError naming every bad variable at once. */
export function loadConfig(env: NodeJS.ProcessEnv): Config {
  const input: Record<string, string | undefined> = {};
  for (const [key, knob] of Object.entries(KNOBS)) {
    const given = env[knob.name];
    // An empty value is how manifests usually say "unset" (e.g. `value: ""`).
    input[key] = given === undefined || given.trim() === '' ? knob.default : given.trim();
  }
  const result = envSchema.safeParse(input);
  if (result.success) {
    const problems = crossChecks(result.data, env);
    if (problems.length === 0) return result.data;
    throw new ConfigError(problems);
  }

  const problems: EnvProblem[] = [];
  for (const [key, knob] of Object.entries(KNOBS)) {
    const issues = result.error.issues.filter((issue) => issue.path[0] === key);
    if (issues.length === 0) continue;
    const details = issues.map(detailOf).filter((d) => d !== undefined);
    problems.push({
      variable: knob.name,
      value: env[knob.name],
      message: `expected ${knob.accepted}${details.length > 0 ? ` (${details.join('; ')})` : ''}`,
    });
  }
  throw new ConfigError(problems);
}

// Knobs that are each valid alone but wrong together. A subject list while
// authentication is off would read as protection that is not there, so it is refused too.
function crossChecks(config: Config, env: NodeJS.ProcessEnv): EnvProblem[] {
  const problems: EnvProblem[] = [];
  if (config.authMode !== 'off' && config.authAudience === undefined) {
    problems.push({ variable: KNOBS.authAudience.name, value: env[KNOBS.authAudience.name], message: `required when ${KNOBS.authMode.name}=${config.authMode}: the audience Knative issues the delivery tokens for` });
  }
  if (config.authMode === 'off' && config.authSubjects.length > 0) {
    problems.push({ variable: KNOBS.authSubjects.name, value: env[KNOBS.authSubjects.name], message: `has no effect while ${KNOBS.authMode.name}=off: set ${KNOBS.authMode.name}=require (or verify), or unset it` });
  }
  problems.push(...metricsChecks(config, env));
  return problems;
}

function metricsChecks(config: Config, env: NodeJS.ProcessEnv): EnvProblem[] {
  const port = KNOBS.metricsPort.name;
  if (config.metricsPort === undefined) return [];
  if (!config.metrics) return [{ variable: port, value: env[port], message: `has no effect while ${KNOBS.metrics.name}=off: unset it, or turn metrics on` }];
  if (config.metricsPort === config.port) return [{ variable: port, value: env[port], message: `is the function's own port (${KNOBS.port.name}); unset it to serve /metrics there, or pick another port` }];
  return [];
}

// Only details that add to `accepted` are shown: why a JSON value is not JSON, or which
// entry inside a structured value is wrong. zod's top-level messages ("Invalid input")
// would only repeat it less clearly.
function detailOf(issue: z.core.$ZodIssue): string | undefined {
  // List positions ("namespaces.1") mean nothing to someone editing a comma list.
  const inner = issue.path
    .slice(1)
    .filter((key) => typeof key !== 'number')
    .map(String)
    .join('.');
  if (inner === '' && issue.path.length > 1) return issue.message;
  const nested = issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined;
  if (inner !== '') return `${inner}: ${nested ?? issue.message}`;
  if (issue.code === 'custom' && issue.message !== 'Invalid input') return issue.message;
  return undefined;
}
