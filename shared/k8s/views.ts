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
}

/** Milliseconds since the epoch; undefined when absent or unreadable. */
export const time = (value: Time): number | undefined => {
  if (value === undefined || value === null) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
};
