// The types of baton's audit CloudEvents and their default sources (part of the
// package export "baton/events", through schemas.ts).

export const PROMOTED = 'dev.baton.failover.promoted';
export const SWITCHOVER = 'dev.baton.failover.switchover';
export const SWITCHOVER_REFUSED = 'dev.baton.failover.switchover.refused';
export const UNAVAILABLE = 'dev.baton.failover.unavailable';
export const COMPLETED = 'dev.baton.failover.completed';
export const RELEASED = 'dev.baton.failover.released';
export const FENCED = 'dev.baton.failover.fenced';
export const HOOK = 'dev.baton.failover.hook';
export const CONFIG_INVALID = 'dev.baton.config.invalid';
export const ROUTE_APPLIED = 'dev.baton.route.applied';
export const ROUTE_REMOVED = 'dev.baton.route.removed';
export const ROUTE_CONFLICT = 'dev.baton.route.conflict';
export const ROUTE_INVALID = 'dev.baton.route.invalid';

export const AUDIT_TYPES = [
  PROMOTED,
  SWITCHOVER,
  SWITCHOVER_REFUSED,
  UNAVAILABLE,
  COMPLETED,
  RELEASED,
  FENCED,
  HOOK,
  CONFIG_INVALID,
  ROUTE_APPLIED,
  ROUTE_REMOVED,
  ROUTE_CONFLICT,
  ROUTE_INVALID,
] as const;
export type AuditType = (typeof AUDIT_TYPES)[number];

export const DEFAULT_AUDIT_SOURCE = 'baton.dev/failover';
export const DEFAULT_ROUTES_SOURCE = 'baton.dev/routes';
