// The function config: every knob (knobs.ts) read from the environment and validated at
// start, with one error naming every bad variable.
import { z } from 'zod';
import type { LogLevel } from '../log.js';
import { ConfigError, type EnvProblem } from './errors.js';
import type { HostPolicy } from './host-policy.js';
import { KNOBS, type AuthMode, type ConfigKnob } from './knobs.js';

export type { AuthMode, ConfigKnob };

export interface Config {
  readonly port: number;
  /** Unset: every address (IPv6 and IPv4 where the node has IPv6). */
  readonly host?: string | undefined;
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

const envSchema = z.object({
  port: KNOBS.port.schema,
  host: KNOBS.host.schema.optional(),
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
