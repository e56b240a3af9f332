/** Which Service: its namespace and name. */
export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
}

// Structural inputs: both client-node's API objects (Date timestamps) and the
// zod-parsed `data` of an event (string timestamps) fit them.
export type Time = Date | string | null | undefined;
export interface MetaLike {
  readonly name?: string | undefined;
  readonly namespace?: string | undefined;
  readonly uid?: string | undefined;
  readonly resourceVersion?: string | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  readonly creationTimestamp?: Time;
  readonly deletionTimestamp?: Time;
  readonly ownerReferences?: ReadonlyArray<{ readonly kind?: string | undefined; readonly uid?: string | undefined; readonly controller?: boolean | undefined }> | undefined;
}

/** A Service as either source gives it; each function reads the parts it needs. */
export interface ServiceLike {
  readonly metadata?: MetaLike | undefined;
  readonly spec?:
    | {
        readonly selector?: Readonly<Record<string, string>> | undefined;
        readonly ports?:
          | ReadonlyArray<{
              readonly name?: string | undefined;
              readonly port?: number | undefined;
              readonly targetPort?: number | string | undefined;
              readonly protocol?: string | undefined;
              readonly appProtocol?: string | undefined;
            }>
          | undefined;
      }
    | undefined;
}

/** Milliseconds since the epoch; undefined when absent or unreadable. */
export const time = (value: Time): number | undefined => {
  if (value === undefined || value === null) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
};
