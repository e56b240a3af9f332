// What the balancer serves from its copy of the Service and its EndpointSlices, its
// port, and the failover hint: the endpoints next() rotates over, or the error it throws
// when there are none. A plain function of that state, so the balancer's shell only
// stores the answer and arms the hint's timer.
import { NoEndpointsError, ServiceNotFoundError, UnknownPortError, type BalancerError } from './errors.js';
import { narrow, type HintState } from './hint.js';
import { resolve, type Endpoint, type PortSelector, type Slices } from './model.js';

export type ServiceState = { readonly state: 'unknown' } | { readonly state: 'missing' } | { readonly state: 'present'; readonly uid: string };

export interface ServingInput {
  /** The Service's namespace/name, for error messages. */
  readonly name: string;
  readonly slicesListed: boolean;
  readonly service: ServiceState;
  readonly lastError: BalancerError | undefined;
  readonly slices: Slices;
  readonly port: PortSelector;
  readonly hint: HintState;
  readonly hintTimeoutMs: number;
}

export type Serving =
  /** Nothing to serve before the hint is even consulted: not synced, no Service, or no such port. */
  | { readonly kind: 'blocked'; readonly endpoints: readonly Endpoint[]; readonly failure: () => BalancerError }
  | {
      readonly kind: 'served';
      readonly endpoints: readonly Endpoint[];
      /** undefined while there are endpoints. */
      readonly failure: (() => BalancerError) | undefined;
      readonly hint: HintState;
      /** When the hint stops acting, if one does. */
      readonly expiresAt: number | undefined;
      /** The promoted pod traffic is held back for. */
      readonly awaiting: string | undefined;
    };

export function serving(input: ServingInput, now: number): Serving {
  const { name, port } = input;
  if (!input.slicesListed || input.service.state === 'unknown') {
    const error = input.lastError;
    return { kind: 'blocked', endpoints: [], failure: error ? () => error : () => new NoEndpointsError(name, 'not-synced') };
  }
  if (input.service.state === 'missing') return { kind: 'blocked', endpoints: [], failure: () => new ServiceNotFoundError(name) };
  const resolution = resolve(input.slices, port);
  if (resolution.kind === 'unknown-port') return { kind: 'blocked', endpoints: [], failure: () => new UnknownPortError(name, port, resolution.available) };
  const narrowed = narrow(resolution.endpoints, input.hint, now, input.hintTimeoutMs);
  const awaiting = narrowed.awaiting;
  const failure =
    narrowed.endpoints.length > 0
      ? undefined
      : awaiting
        ? () => new NoEndpointsError(name, 'awaiting-promoted', `waiting for ${awaiting.name} to appear in the EndpointSlices`)
        : () => new NoEndpointsError(name, 'none-ready');
  return { kind: 'served', endpoints: narrowed.endpoints, failure, hint: narrowed.state, expiresAt: narrowed.expiresAt, awaiting: awaiting?.name };
}
