// What every function does around its own logic: drop events that are not resource
// events or fall outside the configured namespaces, and turn API failures into the
// outcome Knative should act on.
import type { ResourceEvent } from '../events/incoming.js';
import { ApiError, TransientError } from '../k8s/errors.js';
import { handled, ignored, retry, type Outcome } from './outcome.js';
import type { Handler, HandlerContext } from './server.js';

export function resourceHandler(namespaces: readonly string[], handle: (event: ResourceEvent, context: HandlerContext) => Promise<Outcome>): Handler {
  return async (event, context) => {
    if (event.kind === 'Other') return ignored(event.reason);
    // A Node belongs to no namespace; what a function does with one is its own business.
    const namespace = event.kind === 'Node' ? undefined : event.object.metadata.namespace;
    if (namespace !== undefined && namespaces.length > 0 && !namespaces.includes(namespace)) return ignored(`namespace ${namespace} is out of scope`);
    try {
      return await handle(event, context);
    } catch (error) {
      if (error instanceof TransientError) return retry(1, error.message);
      if (error instanceof ApiError) {
        // Forbidden or rejected: redelivery would fail the same way; the periodic pass retries later.
        context.logger.error({ status: error.status, err: error.message }, 'API refused the request');
        return handled(`failed: ${error.message}`);
      }
      throw error;
    }
  };
}
