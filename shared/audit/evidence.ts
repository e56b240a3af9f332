// How every function records a decision: the audit CloudEvent and the Kubernetes Event
// on the Service, sent side by side after the write. Both are side channels: failures
// are logged, never thrown, so evidence can not undo or block a decision.
import type { EventNote, InvolvedService } from '../k8s/service-events.js';
import type { Logger } from '../log.js';
import type { Emitter } from './emit.js';
import type { AuditDraft } from './schemas.js';

export type SendEvidence = (service: InvolvedService, draft: AuditDraft, note: EventNote) => Promise<void>;

export function evidenceSender(deps: { emitter: Emitter; logger: Logger; recordEvent: (service: InvolvedService, note: EventNote) => Promise<void> }): SendEvidence {
  const { emitter, logger } = deps;
  return async (service, draft, note) => {
    const line = { service: `${service.namespace}/${service.name}`, type: draft.type, id: draft.id, reason: note.reason };
    if (note.type === 'Warning') logger.warn(line, note.message);
    else logger.info(line, note.message);
    // A deleted Service (no resourceVersion) can not carry an Event; the audit event is the record.
    const record = service.resourceVersion ? deps.recordEvent(service, note) : Promise.resolve();
    const [emitted, recorded] = await Promise.allSettled([emitter.emit(draft), record]);
    if (emitted.status === 'fulfilled' && !emitted.value.delivered && !('skipped' in emitted.value)) logger.warn({ ...line, error: emitted.value.error }, 'audit event not delivered');
    if (recorded.status === 'rejected') logger.warn({ ...line, error: String(recorded.reason) }, 'kubernetes event not recorded');
  };
}
