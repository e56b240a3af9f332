// What the HTTP face tells an observer (the metrics) about each CloudEvent delivery.
export interface Delivery {
  /** The event's resource kind once parsed; undefined when it was refused before that. */
  readonly kind: string | undefined;
  /** As logged: handled, ignored, retry, rejected, error, unauthenticated; aborted when the reply was not finished. */
  readonly outcome: string;
  /** Arrival to reply. */
  readonly seconds: number;
  /** Wall-clock arrival, ms since the epoch. */
  readonly arrivedAt: number;
  /** The event's `time` attribute as sent (RFC 3339, already checked to parse). */
  readonly eventTime: string | undefined;
}

export interface DeliveryObserver {
  /** A delivery arrived; the returned function is called once when it ends. */
  started(): () => void;
  ended(delivery: Delivery): void;
}
