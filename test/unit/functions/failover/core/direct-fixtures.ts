// A Service in direct mode for the failover core tests.
import type { PodView, ServiceView } from '../../../../../functions/failover/core/model.js';
import { MODE_VALUE } from '../../../../../shared/keys.js';
import { keys, NOW, NS } from './fixtures.js';

/** A Service in direct mode: no selector, `<prefix>/pods` naming app=web. */
export function directService(options: { annotations?: Record<string, string>; selector?: Record<string, string>; active?: PodView; term?: number; optedIn?: boolean } = {}): ServiceView {
  const annotations: Record<string, string> = { [keys.pods]: 'app=web' };
  if (options.active) {
    Object.assign(annotations, {
      [keys.activePod]: options.active.name,
      [keys.activeUid]: options.active.uid,
      [keys.term]: String(options.term ?? 1),
      [keys.switchedAt]: new Date(NOW - 3_600_000).toISOString(),
      [keys.reason]: 'initial',
      [keys.recordOf]: 'svc-uid',
      [keys.endpointSlice]: 'web-baton',
    });
  }
  Object.assign(annotations, options.annotations ?? {});
  return {
    name: 'web',
    namespace: NS,
    uid: 'svc-uid',
    resourceVersion: '42',
    labels: options.optedIn === false ? {} : { [keys.mode]: MODE_VALUE },
    annotations,
    selector: options.selector ?? {},
    ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', appProtocol: undefined }],
  };
}

