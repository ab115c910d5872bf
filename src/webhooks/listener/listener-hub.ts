import type { DomainContext } from '../../domain/context.js';
import { expireListenerEndpoints } from './listener-endpoints.js';
import { ListenerSession, type ListenerConnection, type ListenerLog } from './listener-session.js';
import type { EndpointRow } from '../endpoints.js';

/** How often this process looks for development endpoints left behind by killed listeners. */
const EXPIRY_SWEEP_MS = 5 * 60 * 1000;

/**
 * The listener connections of one server process: one session per connection, closed with the server, and the
 * sweep that removes development endpoints no listener has held for an hour.
 */
export class ListenerHub {
  private readonly sessions = new Set<ListenerSession>();
  private sweep: NodeJS.Timeout | null = null;

  constructor(
    private readonly ctx: DomainContext,
    private readonly log?: ListenerLog,
  ) {}

  start(): void {
    this.sweep = setInterval(() => void this.expire(), EXPIRY_SWEEP_MS);
    this.sweep.unref();
  }

  /** A listener connected and holds `endpoint`: its session runs until `close()`. */
  open(endpoint: EndpointRow, connection: ListenerConnection): ListenerSession {
    const session = new ListenerSession(this.ctx, endpoint, connection, this.log);
    this.sessions.add(session);
    session.start();
    return session;
  }

  async close(session: ListenerSession): Promise<void> {
    this.sessions.delete(session);
    await session.close();
  }

  /** Removes expired development endpoints now; returns how many. */
  async expire(): Promise<number> {
    try {
      return await expireListenerEndpoints(this.ctx, this.ctx.clock.now());
    } catch (err) {
      this.log?.warn({ err }, 'could not remove expired development endpoints');
      return 0;
    }
  }

  async stop(): Promise<void> {
    if (this.sweep) clearInterval(this.sweep);
    this.sweep = null;
    await Promise.all([...this.sessions].map((s) => this.close(s)));
  }
}
