import type { Client, ClientOptions } from 'openapi-fetch';
import type { components, operations, paths } from './schema.js';

export type { components, operations, paths };

/** A shape of the API by its OpenAPI name, e.g. `Schema<'ComplaintDetail'>`. */
export type Schema<Name extends keyof components['schemas']> = components['schemas'][Name];

export interface EscalatrClientOptions {
  /** The server's address, e.g. `https://escalatr.example.com` (paths start with `/api/v1/…`). */
  baseUrl: string;
  /** An API key (`esc_…`), sent as `Authorization: Bearer …`. */
  apiKey?: string;
  fetch?: ClientOptions['fetch'];
  headers?: Record<string, string>;
}

export type EscalatrClient = Client<paths>;

export declare function createEscalatrClient(options: EscalatrClientOptions): EscalatrClient;
