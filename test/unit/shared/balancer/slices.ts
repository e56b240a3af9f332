// Builders of EndpointSlices shaped as the API returns them.
import type { SliceLike } from '../../../../shared/balancer/model.js';

export interface EndpointSpec {
  readonly ip: string;
  readonly ready?: boolean | undefined;
  readonly pod?: string;
}

export function slice(name: string, ports: ReadonlyArray<{ name?: string; port: number }> | null, endpoints: readonly EndpointSpec[]): SliceLike {
  return {
    metadata: { name, resourceVersion: '1' },
    ports,
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      ...(e.ready === undefined ? {} : { conditions: { ready: e.ready } }),
      ...(e.pod ? { targetRef: { name: e.pod, uid: `uid-${e.pod}` } } : {}),
    })),
  };
}

export const HTTP = [{ name: 'http', port: 8080 }];
