// What can go wrong when asking the balancer for an endpoint, as classes a caller can
// branch on with `instanceof` instead of parsing messages.

/** Base of every error the balancer throws on purpose. */
export class BalancerError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

export type NoEndpointsReason =
  /** Nothing has been listed yet: call sync() or await startBackgroundSync(). */
  | 'not-synced'
  /** The Service exists but no endpoint for the port is ready. */
  | 'none-ready'
  /** A failover event named a pod that the EndpointSlices do not show yet. */
  | 'awaiting-promoted';

export class NoEndpointsError extends BalancerError {
  constructor(
    readonly service: string,
    readonly reason: NoEndpointsReason,
    detail?: string,
  ) {
    super(`${service}: no ready endpoint (${reason}${detail ? `: ${detail}` : ''})`);
  }
}

export interface PortInfo {
  readonly name: string;
  readonly port: number;
}

/** The requested port is on none of the Service's EndpointSlices, or none was named and there are several. */
export class UnknownPortError extends BalancerError {
  constructor(
    readonly service: string,
    readonly requested: string | number | undefined,
    readonly available: readonly PortInfo[],
  ) {
    const list = available.map((p) => `${p.name === '' ? '(unnamed)' : p.name}=${p.port}`).join(', ');
    const what =
      requested === undefined
        ? 'the Service has more than one port; name one with the `port` option'
        : typeof requested === 'number'
          ? `no endpoint port ${requested} (a number names the port on the pods, i.e. the Service's targetPort)`
          : `no port named "${requested}"`;
    super(`${service}: ${what}; ports on its endpoints: ${list || 'none'}`);
  }
}

export class ServiceNotFoundError extends BalancerError {
  constructor(readonly service: string) {
    super(`Service ${service} does not exist`);
  }
}

/** Network failure, timeout, 429 or 5xx: the API server could not answer. Retried in the background. */
export class ApiUnreachableError extends BalancerError {}

/** 401/403/400/422: the API server answered but refused; retrying will not help until RBAC or input changes. */
export class ApiRejectedError extends BalancerError {
  constructor(
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The balancer was shut down. */
export class BalancerClosedError extends BalancerError {
  constructor(readonly service: string) {
    super(`balancer for ${service} is shut down`);
  }
}
