import amqp, { type ChannelModel, type ConfirmChannel } from 'amqplib';
import { BrokerRefusal, type BrokerConnection, type BrokerConnector } from './connection.js';

/** A reply of the broker's ("… 404 (NOT-FOUND) with message …"): its words, not a network failure of ours. */
function refusalOf(err: unknown): BrokerRefusal | null {
  const text = err instanceof Error ? err.message : '';
  const reply = /\b(\d{3}) \(([A-Z-]+)\)/.exec(text);
  if (!reply) return null;
  return new BrokerRefusal(reply[1] === '403' || reply[2] === 'ACCESS-REFUSED' ? 'auth' : 'rejected', text);
}

/**
 * AMQP 0-9-1 (RabbitMQ): one connection and one confirm channel per destination. Success is the broker's publisher
 * confirm. Messages are published `mandatory`, so one no queue is bound to comes back and fails the attempt rather
 * than vanishing. A refused publish (no such exchange) closes the channel; the next attempt opens another.
 */
class AmqpConnection implements BrokerConnection {
  broken = false;
  private channel: Promise<ConfirmChannel> | null = null;
  /** Publishes waiting for their confirm, by message id: a channel error or a return settles them. */
  private readonly pending = new Map<string, (err: Error | null) => void>();

  constructor(private readonly model: ChannelModel) {
    model.on('error', () => {});
    model.on('close', (err?: Error) => {
      this.broken = true;
      this.failPending(err ?? new Error('the broker closed the connection'));
    });
  }

  private failPending(err: Error): void {
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const settle of waiting) settle(refusalOf(err) ?? err);
  }

  private openChannel(): Promise<ConfirmChannel> {
    this.channel ??= this.model.createConfirmChannel().then(
      (ch) => {
        let closeReason: Error | null = null;
        ch.on('error', (err: Error) => (closeReason = err));
        ch.on('close', () => {
          this.channel = null;
          this.failPending(closeReason ?? new Error('the broker closed the channel'));
        });
        ch.on('return', (msg: { properties: { messageId?: string }; fields: { replyText?: string } }) => {
          const settle = this.pending.get(msg.properties.messageId ?? '');
          this.pending.delete(msg.properties.messageId ?? '');
          settle?.(new BrokerRefusal('rejected', `${msg.fields.replyText ?? 'NO_ROUTE'}: no queue is bound for it`));
        });
        return ch;
      },
      (err: unknown) => {
        this.channel = null;
        throw err;
      },
    );
    return this.channel;
  }

  async publish(
    destination: Parameters<BrokerConnection['publish']>[0],
    message: Parameters<BrokerConnection['publish']>[1],
  ): Promise<string> {
    const ch = await this.openChannel();
    return new Promise<string>((resolve, reject) => {
      const settle = (err: Error | null) => {
        if (this.pending.get(message.messageId) === settle) this.pending.delete(message.messageId);
        if (err) reject(err);
        else resolve('confirmed by the broker');
      };
      this.pending.set(message.messageId, settle);
      try {
        ch.publish(
          destination.name,
          destination.routingKey,
          Buffer.from(message.body),
          {
            headers: message.headers,
            contentType: 'application/json',
            messageId: message.messageId,
            persistent: true,
            mandatory: true,
          },
          (err: unknown) => {
            // A returned message is confirmed too; its return (sent first) has already settled it.
            if (this.pending.get(message.messageId) !== settle) return;
            if (!err) return settle(null);
            // A closing channel fails its unconfirmed publishes first; its close, with the broker's reason, comes
            // right after and settles this with that reason. A plain nack has none.
            setImmediate(() => {
              if (this.pending.get(message.messageId) === settle)
                settle(new BrokerRefusal('rejected', 'the broker did not confirm the message (nack)'));
            });
          },
        );
      } catch (err) {
        settle(err as Error);
      }
    });
  }

  async close(): Promise<void> {
    this.broken = true;
    await this.model.close().catch(() => {});
  }
}

export const connectAmqp: BrokerConnector = async (destination, address, timeoutMs, tls) => {
  let model: ChannelModel;
  try {
    model = await amqp.connect(
      {
        protocol: tls ? 'amqps' : 'amqp',
        hostname: address,
        port: destination.port,
        username: destination.username ?? 'guest',
        password: destination.password ?? 'guest',
        vhost: destination.vhost,
        heartbeat: 30,
      },
      // amqplib hands these to tls.connect for amqps.
      { ...tls, timeout: timeoutMs },
    );
  } catch (err) {
    throw refusalOf(err) ?? err;
  }
  return new AmqpConnection(model);
};
