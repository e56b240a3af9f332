// Reads a Service's routing annotations into a Route, or into every problem at once.
// Pure; the same input always gives the same answer, so any function instance that
// looks at a Service agrees on what it asks for.
import { isIP } from 'node:net';
import { type PortRef, type Route, type RouteKeys, type RouteProblem, type RouteService, portText } from './model.js';
import { policyRefusal, type HostPolicy } from './policy.js';

export type Claim =
  | { readonly kind: 'none' }
  | { readonly kind: 'invalid'; readonly problems: readonly RouteProblem[] }
  | { readonly kind: 'route'; readonly route: Route };

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
// RFC 3986 path characters; anything else (spaces, quotes, braces) is a typo or an
// attempt to smuggle configuration into an ingress controller.
const PATH_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*$/;
// Service port names are IANA service names: lowercase letters, digits and "-", at
// least one letter, at most 15 characters.
const PORT_NAME = /^(?=.*[a-z])[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;
const MAX_PATH = 1024;

function own(values: Readonly<Record<string, string>>, key: string): string | undefined {
  return Object.hasOwn(values, key) ? values[key] : undefined;
}

/** True when the Service carries any routing annotation, valid or not. */
export function mentionsRoute(annotations: Readonly<Record<string, string>>, keys: RouteKeys): boolean {
  return [keys.host, keys.legacyHost, keys.path, keys.port, keys.tlsSecret].some((k) => own(annotations, k) !== undefined);
}

export function hostProblem(host: string): string | undefined {
  if (host === '') return 'expected a host name, got an empty value';
  if (host.length > 253) return 'a host name has at most 253 characters';
  if (isIP(host) !== 0) return 'expected a DNS name; Ingress rules do not route IP addresses';
  if (/[A-Z]/.test(host)) return 'host names must be lowercase';
  if (host.includes(':')) return 'a host name carries no port; set the port separately';
  const labels = host.split('.');
  const rest = labels[0] === '*' ? labels.slice(1) : labels;
  if (labels[0] === '*' && rest.every((label) => label === '')) return 'a wildcard needs a domain after "*."';
  if (!rest.every((label) => DNS_LABEL.test(label))) {
    const suggestion = correctedHost(host);
    return `not a valid host name under RFC 1123: dot-separated labels of lowercase letters, digits and "-", each starting and ending with a letter or digit (a leading "*." is allowed)${suggestion ? `; for example ${suggestion}` : ''}`;
  }
  return undefined;
}

/** The nearest RFC 1123 name, to show in the message (never used to route). */
export function correctedHost(host: string): string | undefined {
  const labels = host.split('.');
  const wildcard = labels[0] === '*';
  const fixed = (wildcard ? labels.slice(1) : labels)
    .map((label) => label.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63).replace(/-+$/, ''))
    .filter((label) => label !== '');
  const name = [...(wildcard ? ['*'] : []), ...fixed].join('.');
  return fixed.length > 0 && name !== host && name.length <= 253 ? name : undefined;
}

export function pathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'expected an absolute path starting with "/"';
  if (path.length > MAX_PATH) return `a path has at most ${MAX_PATH} characters`;
  if (!PATH_CHARS.test(path)) return 'only URL path characters are allowed (letters, digits and -._~!$&\'()*+,;=:@/%)';
  if (path.includes('//') || /\/\.\.?(\/|$)/.test(path)) return 'the path may not contain "//", "/./" or "/../", nor end in "/." or "/.."';
  // The API server refuses Prefix paths holding an encoded "/" (it would let a path
  // escape its prefix); a "%" must start an escape of two hex digits.
  if (/%2f/i.test(path)) return 'the path may not contain an encoded "/" (%2F)';
  if (/%(?![0-9A-Fa-f]{2})/.test(path)) return 'a "%" in a path starts an escape of two hex digits, like %20';
  return undefined;
}

function secretProblem(name: string): string | undefined {
  if (name.length === 0 || name.length > 253 || !name.split('.').every((label) => DNS_LABEL.test(label))) {
    return 'expected the name of a Secret in the Service\'s namespace (DNS-1123 subdomain)';
  }
  return undefined;
}

type PortRequest = { readonly ok: true; readonly port: PortRef | undefined } | { readonly ok: false; readonly message: string };

function portRequest(text: string): PortRequest {
  if (/^\d+$/.test(text)) {
    const number = Number(text);
    return number >= 1 && number <= 65535 ? { ok: true, port: { number } } : { ok: false, message: 'a port number is from 1 to 65535' };
  }
  return PORT_NAME.test(text) ? { ok: true, port: { name: text } } : { ok: false, message: 'expected a port number or the name of one of the Service\'s ports' };
}

function describePorts(service: RouteService): string {
  return service.ports.map((p) => (p.name ? `${p.name}=${p.port}` : String(p.port))).join(', ');
}

const has = (service: RouteService, port: PortRef): boolean =>
  'number' in port ? service.ports.some((p) => p.port === port.number) : service.ports.some((p) => p.name === port.name);

type Resolved = { ok: true; port: PortRef } | { ok: false; message: string };

/** Matches the requested port (baton.dev/port) against what the Service exposes. */
function resolvePort(service: RouteService, requested: PortRef | undefined, portKey: string): Resolved {
  if (service.ports.length === 0) return { ok: false, message: 'the Service exposes no ports, so there is nothing to route to' };
  if (requested === undefined) {
    if (service.ports.length === 1) return { ok: true, port: { number: service.ports[0]!.port } };
    return { ok: false, message: `the Service exposes ${service.ports.length} ports (${describePorts(service)}); say which one with ${portKey}` };
  }
  if (!has(service, requested)) return { ok: false, message: `the Service exposes no port ${portText(requested)} (it has ${describePorts(service)})` };
  return { ok: true, port: requested };
}

/**
 * The retired load balancer's `host:port`: the port was its own entry port (the
 * NodePort clients dialled), not a port of the Service, and the Service's port was the
 * backend. So: the Service's only port; with several, the one the annotation names if
 * the Service has it; otherwise the user must say which.
 */
function resolveLegacyPort(service: RouteService, entry: PortRef, portKey: string): Resolved {
  if (service.ports.length === 0) return { ok: false, message: 'the Service exposes no ports, so there is nothing to route to' };
  if (service.ports.length === 1) return { ok: true, port: { number: service.ports[0]!.port } };
  if (has(service, entry)) return { ok: true, port: entry };
  return {
    ok: false,
    message: `the Service exposes ${service.ports.length} ports (${describePorts(service)}) and none is ${portText(entry)}, the old load balancer's entry port; add ${portKey} with the one to route to, e.g. ${portKey}: ${service.ports[0]!.name ?? service.ports[0]!.port}`,
  };
}

type Report = (key: string, value: string, message: string) => void;

interface HostClaim {
  readonly host: string | undefined;
  /** The annotation the host was read from: baton's own or the legacy one. */
  readonly key: string;
  /** The port of a legacy `host:port`, when it is a valid one. */
  readonly legacyPort: PortRef | undefined;
}

/**
 * The host a Service asks for. baton's own annotation wins over the legacy one, so a
 * Service can move to it without first deleting the old declaration. Neither: the other
 * routing annotations have nothing to apply to, and the first of them is reported.
 */
function readHost(a: Readonly<Record<string, string>>, keys: RouteKeys, problem: Report, checkHost: (key: string, value: string, host: string) => void): HostClaim {
  const hostText = own(a, keys.host);
  if (hostText !== undefined) {
    const host = hostText.trim();
    checkHost(keys.host, hostText, host);
    return { host, key: keys.host, legacyPort: undefined };
  }
  const legacyText = own(a, keys.legacyHost);
  if (legacyText !== undefined) {
    const match = /^(.*?)(?::([^:]*))?$/.exec(legacyText.trim())!;
    const host = match[1]!;
    checkHost(keys.legacyHost, legacyText, host);
    let legacyPort: PortRef | undefined;
    if (match[2] !== undefined) {
      const port = portRequest(match[2]);
      if (port.ok) legacyPort = port.port;
      else problem(keys.legacyHost, legacyText, port.message);
    }
    return { host, key: keys.legacyHost, legacyPort };
  }
  const stray = [keys.path, keys.port, keys.tlsSecret].find((k) => own(a, k) !== undefined)!;
  problem(stray, own(a, stray)!, `has no effect without ${keys.host}; set the host to route, or remove this annotation`);
  return { host: undefined, key: keys.host, legacyPort: undefined };
}

/**
 * `policy` undefined: no host policy is applied (the planner's callers always pass one;
 * tests of the annotation grammar need none).
 */
export function readClaim(service: RouteService, keys: RouteKeys, ingressClass: string | undefined, policy?: HostPolicy): Claim {
  const a = service.annotations;
  if (!mentionsRoute(a, keys)) return { kind: 'none' };
  const problems: RouteProblem[] = [];
  const problem: Report = (key, value, message) => void problems.push({ key, value, message });
  // Checked only for a well-formed host, and reported as the policy's refusal.
  const checkHost = (key: string, value: string, host: string): void => {
    const message = hostProblem(host);
    if (message) return problem(key, value, message);
    const refused = policy ? policyRefusal(policy, service.namespace, host) : undefined;
    if (refused) problems.push({ key, value, message: refused, byPolicy: true });
  };

  const { host, key: hostKey, legacyPort } = readHost(a, keys, problem, checkHost);

  const pathText = own(a, keys.path);
  const path = pathText === undefined ? '/' : pathText.trim();
  if (pathText !== undefined) {
    const message = pathProblem(path);
    if (message) problem(keys.path, pathText, message);
  }

  const portText_ = own(a, keys.port);
  let requested: PortRef | undefined;
  if (portText_ !== undefined) {
    const port = portRequest(portText_.trim());
    if (port.ok) requested = port.port;
    else problem(keys.port, portText_, port.message);
  }
  // baton.dev/port, when given, says which port outright; the legacy entry port only
  // picks among the Service's ports, and a problem with it is reported on lb.host.
  const fromLegacy = requested === undefined && legacyPort !== undefined && portText_ === undefined;
  const portKey = fromLegacy ? hostKey : keys.port;

  const tlsText = own(a, keys.tlsSecret);
  const tlsSecret = tlsText?.trim();
  if (tlsText !== undefined) {
    const message = secretProblem(tlsSecret!);
    if (message) problem(keys.tlsSecret, tlsText, message);
  }

  if (problems.length > 0 || host === undefined) return { kind: 'invalid', problems };
  const port = fromLegacy ? resolveLegacyPort(service, legacyPort, keys.port) : resolvePort(service, requested, keys.port);
  if (!port.ok) return { kind: 'invalid', problems: [{ key: portKey, value: own(a, portKey) ?? '', message: port.message }] };
  const legacyEntryPort = hostKey === keys.legacyHost && legacyPort !== undefined && 'number' in legacyPort ? legacyPort.number : undefined;
  return { kind: 'route', route: { host, path, port: port.port, tlsSecret, ingressClass, ...(legacyEntryPort !== undefined ? { legacyEntryPort } : {}) } };
}
