// Helpers the parseIncoming tests share.
import assert from 'node:assert/strict';
import { type ParseResult, type InboundEvent } from '../../../../shared/events/incoming.js';
import { type FixtureName } from '../../../fixtures/apiserversource.js';

export function accepted(result: ParseResult): InboundEvent {
  if (!result.ok) assert.fail(`expected the event to be accepted, got ${result.status}: ${result.message}`);
  return result.event;
}

export function rejected(result: ParseResult, status: 400 | 415, pattern: RegExp): void {
  if (result.ok) assert.fail(`expected ${status}, got an accepted ${result.event.kind} event`);
  assert.equal(result.status, status, result.message);
  assert.match(result.message, pattern);
}

export const expectations: Record<FixtureName, { kind: string; action: string; name: string }> = {
  podUpdateNotReady: { kind: 'Pod', action: 'update', name: 'web-0' },
  serviceAdd: { kind: 'Service', action: 'add', name: 'web' },
  endpointSliceUpdate: { kind: 'EndpointSlice', action: 'update', name: 'web-x7k2p' },
  podDelete: { kind: 'Pod', action: 'delete', name: 'web-0' },
};
