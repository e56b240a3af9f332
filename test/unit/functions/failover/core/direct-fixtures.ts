// A Service in direct mode for the failover core tests: the selector-mode fixture's
// record, without a selector or a saved one, naming its pods and its slice instead.
import type { PodView, ServiceView } from '../../../../../functions/failover/core/model.js';
import { keys, service } from './fixtures.js';

/** A Service in direct mode: no selector, `<prefix>/pods` naming app=web. */
export function directService(options: { annotations?: Record<string, string>; selector?: Record<string, string>; active?: PodView; term?: number; optedIn?: boolean } = {}): ServiceView {
  const base = service({ ...(options.active ? { active: options.active } : {}), ...(options.term !== undefined ? { term: options.term } : {}), ...(options.optedIn !== undefined ? { optedIn: options.optedIn } : {}) });
  const { [keys.originalSelector]: _saved, ...record } = base.annotations;
  return {
    ...base,
    annotations: { [keys.pods]: 'app=web', ...record, ...(options.active ? { [keys.endpointSlice]: 'web-baton' } : {}), ...(options.annotations ?? {}) },
    selector: options.selector ?? {},
    ports: [{ name: 'http', port: 80, targetPort: 8080, protocol: 'TCP', appProtocol: undefined }],
  };
}
