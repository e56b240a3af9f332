// What a handler tells the HTTP layer. One way to say "try again" (retry), as the
// controller-runtime lesson goes; everything else is a 2xx so Knative stops retrying.
export type Outcome =
  | { readonly status: 'handled' | 'ignored'; readonly detail?: string }
  | { readonly status: 'retry'; readonly retryAfterSeconds: number; readonly detail: string };

export const handled = (detail?: string): Outcome => (detail === undefined ? { status: 'handled' } : { status: 'handled', detail });
export const ignored = (detail?: string): Outcome => (detail === undefined ? { status: 'ignored' } : { status: 'ignored', detail });
export const retry = (retryAfterSeconds: number, detail: string): Outcome => ({ status: 'retry', retryAfterSeconds, detail });
