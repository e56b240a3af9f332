// What the tests of the routing annotations' limits share: claims read with the defaults.
import assert from 'node:assert/strict';
import { type Claim } from '../../../../../functions/routes/core/claim.js';
import type { RouteProblem } from '../../../../../functions/routes/core/model.js';

export const HOST_RULE =
  'not a valid host name under RFC 1123: dot-separated labels of lowercase letters, digits and "-", each starting and ending with a letter or digit (a leading "*." is allowed)';

export const PORT_RANGE = 'a port number is from 1 to 65535';

export const PORT_NAME = "expected a port number or the name of one of the Service's ports";

export const SECRET = "expected the name of a Secret in the Service's namespace (DNS-1123 subdomain)";

export const NO_PORTS = 'the Service exposes no ports, so there is nothing to route to';

export const problemsOf = (claim: Claim): readonly RouteProblem[] => {
  assert.equal(claim.kind, 'invalid', JSON.stringify(claim));
  return (claim).problems;
};

export const routeOf = (claim: Claim) => {
  assert.equal(claim.kind, 'route', JSON.stringify(claim));
  return (claim).route;
};

/** A host of exactly `length` characters: labels of 63 and a shorter last one. */
export function hostOfLength(length: number): string {
  const labels: string[] = [];
  let left = length;
  while (left > 63) {
    labels.push('a'.repeat(63));
    left -= 64;
  }
  labels.push('a'.repeat(left));
  const host = labels.join('.');
  assert.equal(host.length, length);
  return host;
}
