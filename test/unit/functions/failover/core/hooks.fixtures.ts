// The hook settings a Service without hook annotations has.
import type { HookSettings } from '../../../../../functions/failover/core/model.js';

export const NO_HOOKS: HookSettings = { promote: undefined, demote: undefined, timeoutMs: 2_000, retries: 2, demotePolicy: 'continue' };
