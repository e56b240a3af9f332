// Public entry point of the client-side balancer (package export "baton/balancer").
export { EndpointsBalancer, type BalancerOptions, type BalancerStatus, type HintResult } from './balancer.js';
export type { HintRejection } from './hint.js';
export type { BalancerMetrics } from './metrics.js';
export { balancerEvents, parseAuditDelivery, OUTCOME_HEADER, DETAIL_HEADER, type AuditParse, type BalancerEventsOptions } from './events.js';
export {
  ApiRejectedError,
  ApiUnreachableError,
  BalancerClosedError,
  BalancerError,
  NoEndpointsError,
  ServiceNotFoundError,
  UnknownPortError,
  type NoEndpointsReason,
  type PortInfo,
} from './errors.js';
export { hostPort, type Endpoint, type PortSelector } from './model.js';
// The same pod reference the audit events carry.
export type { PodRef } from '../audit/schemas.js';
