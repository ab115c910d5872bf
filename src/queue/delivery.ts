import type { Selectable } from 'kysely';
import type { DeliveriesTable } from '../storage/schema.js';

/** A delivery row as the queue reads it. */
export type DeliveryRow = Selectable<DeliveriesTable>;
export type DeliveryStatus = DeliveriesTable['status'];

/** The event a delivery sends. */
export interface StoredEvent {
  id: string;
  name: string;
  /** The exact JSON bytes written at event time. */
  body: string;
  created_at: number;
}

/** A delivery leased by a worker, with its event and the receiver it counts against for per-receiver caps. */
export interface ClaimedDelivery {
  delivery: DeliveryRow;
  event: StoredEvent;
  /** Its endpoint id or Shield destination id. */
  receiver: string;
  /** The company it belongs to (the worker's fair share is per company, then per receiver). */
  company: string;
}
