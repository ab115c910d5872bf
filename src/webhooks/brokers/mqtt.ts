import { randomBytes } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { authority, BrokerRefusal, type BrokerConnection, type BrokerConnector } from './connection.js';

/**
 * MQTT reason codes from 0x80 up are the broker saying no (CONNACK: 0x86 bad user name or password, 0x87 not
 * authorised; PUBACK: 0x87 not authorised, 0x90 topic name invalid, 0x97 quota exceeded…).
 */
function refusalOf(err: unknown): BrokerRefusal | null {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== 'number') return null;
  const text = err instanceof Error ? err.message : `reason code ${code}`;
  return new BrokerRefusal(code === 0x86 || code === 0x87 || code === 4 || code === 5 ? 'auth' : 'rejected', text);
}

/**
 * MQTT v5 at QoS 1: success is the broker's PUBACK. The signature headers go as user properties, the body as the
 * payload (content type application/json).
 */
class MqttConnection implements BrokerConnection {
  get broken(): boolean {
    return !this.client.connected;
  }

  constructor(private readonly client: MqttClient) {
    client.on('error', () => {});
  }

  async publish(
    destination: Parameters<BrokerConnection['publish']>[0],
    message: Parameters<BrokerConnection['publish']>[1],
  ): Promise<string> {
    try {
      const ack = (await this.client.publishAsync(destination.name, message.body, {
        qos: 1,
        properties: {
          contentType: 'application/json',
          payloadFormatIndicator: true,
          userProperties: message.headers,
        },
      })) as { reasonCode?: number } | undefined;
      return `PUBACK (reason code ${ack?.reasonCode ?? 0})`;
    } catch (err) {
      throw refusalOf(err) ?? err;
    }
  }

  async close(): Promise<void> {
    await this.client.endAsync(true).catch(() => {});
  }
}

export const connectMqtt: BrokerConnector = async (destination, address, timeoutMs, tls) => {
  try {
    const client = await mqtt.connectAsync(
      `${tls ? 'mqtts' : 'mqtt'}://${authority(address, destination.port)}`,
      {
        // mqtt.js hands these to tls.connect for mqtts (its types spell cert and key more narrowly than Node's).
        ...(tls as IClientOptions | null),
        protocolVersion: 5,
        clientId: `escalatr_${randomBytes(8).toString('hex')}`,
        clean: true,
        connectTimeout: timeoutMs,
        reconnectPeriod: 0,
        ...(destination.username !== null ? { username: destination.username } : {}),
        ...(destination.password !== null ? { password: destination.password } : {}),
      },
      // Fail the attempt on the first error: retries follow the delivery schedule.
      false,
    );
    return new MqttConnection(client);
  } catch (err) {
    throw refusalOf(err) ?? err;
  }
};
