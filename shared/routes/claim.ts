// Reads a Service's routing annotations into a Route, or into every problem at once.
// Pure; the same input always gives the same answer, so any function instance that
// looks at a Service agrees on what it asks for.
import { isIP } from 'node:net';
import { type PortRef, type Route, type RouteKeys, type RouteProblem, type RouteService, portText } from './model.js';

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
    return 'expected a DNS-1123 name: dot-separated labels of lowercase letters, digits and "-", each starting and ending with a letter or digit (a leading "*." is allowed)';
  }
  return undefined;
}

export function pathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'expected an absolute path starting with "/"';
  if (path.length > MAX_PATH) return `a path has at most ${MAX_PATH} characters`;
  if (!PATH_CHARS.test(path)) return 'only URL path characters are allowed (letters, digits and -._~!$&\'()*+,;=:@/%)';
  if (path.includes('//') || /\/\.\.?(\/|$)/.test(path)) return 'the path may not contain "//", "/./" or "/../", nor end in "/." or "/.."';
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

/** Matches the requested port against what the Service exposes. */
function resolvePort(service: RouteService, requested: PortRef | undefined): { ok: true; port: PortRef } | { ok: false; message: string } {
  if (service.ports.length === 0) return { ok: false, message: 'the Service exposes no ports, so there is nothing to route to' };
  if (requested === undefined) {
    if (service.ports.length === 1) return { ok: true, port: { number: service.ports[0]!.port } };
    return { ok: false, message: `the Service exposes ${service.ports.length} ports (${describePorts(service)}); say which one` };
  }
  const found = 'number' in requested ? service.ports.some((p) => p.port === requested.number) : service.ports.some((p) => p.name === requested.name);
  if (!found) return { ok: false, message: `the Service exposes no port ${portText(requested)} (it has ${describePorts(service)})` };
  return { ok: true, port: requested };
}

export function readClaim(service: RouteService, keys: RouteKeys, ingressClass: string | undefined): Claim {
  const a = service.annotations;
  if (!mentionsRoute(a, keys)) return { kind: 'none' };
  const problems: RouteProblem[] = [];
  const problem = (key: string, value: string, message: string): void => void problems.push({ key, value, message });

  // baton's own annotation wins over the legacy one, so a Service can move to it
  // without first deleting the old declaration.
  const hostText = own(a, keys.host);
  const legacyText = own(a, keys.legacyHost);
  let host: string | undefined;
  let hostKey = keys.host;
  let legacyPort: PortRef | undefined;
  if (hostText !== undefined) {
    host = hostText.trim();
    const message = hostProblem(host);
    if (message) problem(keys.host, hostText, message);
  } else if (legacyText !== undefined) {
    hostKey = keys.legacyHost;
    const match = /^(.*?)(?::([^:]*))?$/.exec(legacyText.trim())!;
    host = match[1]!;
    const message = hostProblem(host);
    if (message) problem(keys.legacyHost, legacyText, message);
    if (match[2] !== undefined) {
      const port = portRequest(match[2]);
      if (port.ok) legacyPort = port.port;
      else problem(keys.legacyHost, legacyText, port.message);
    }
  } else {
    const stray = [keys.path, keys.port, keys.tlsSecret].find((k) => own(a, k) !== undefined)!;
    problem(stray, own(a, stray)!, `has no effect without ${keys.host}; set the host to route, or remove this annotation`);
  }

  const pathText = own(a, keys.path);
  const path = pathText === undefined ? '/' : pathText.trim();
  if (pathText !== undefined) {
    const message = pathProblem(path);
    if (message) problem(keys.path, pathText, message);
  }

  const portText_ = own(a, keys.port);
  let requested = legacyPort;
  // A problem with the port is reported on the annotation that asked for it.
  const portKey = portText_ === undefined && legacyPort !== undefined ? hostKey : keys.port;
  if (portText_ !== undefined) {
    const port = portRequest(portText_.trim());
    if (port.ok) requested = port.port;
    else problem(keys.port, portText_, port.message);
  }

  const tlsText = own(a, keys.tlsSecret);
  const tlsSecret = tlsText?.trim();
  if (tlsText !== undefined) {
    const message = secretProblem(tlsSecret!);
    if (message) problem(keys.tlsSecret, tlsText, message);
  }

  if (problems.length > 0 || host === undefined) return { kind: 'invalid', problems };
  const port = resolvePort(service, requested);
  if (!port.ok) return { kind: 'invalid', problems: [{ key: portKey, value: own(a, portKey) ?? '', message: port.message }] };
  return { kind: 'route', route: { host, path, port: port.port, tlsSecret, ingressClass } };
}
