import { join } from 'node:path';
import { Agent, request } from 'undici';
import type { BenchContext, ScenarioResult } from '../lib/context.js';
import type { BenchChild } from '../lib/rpc.js';
import { epochMs, percentile, sleep } from '../lib/time.js';

/**
 * 7. Escalation Shield under a flood, on SQLite: company A posts one batch of 1,000 records of 20,000 characters (the
 * largest a request may carry) while company B reads its complaint list. Figures: B's GET /api/v1/complaints p99
 * from A's POST until every record is scored (`shield_flood_api_p99_ms`; the same load with A idle is in the
 * details). Then A sends a second such batch with nobody reading: records scored per second from the 202 until the
 * last is scored is the scoring capacity (`shield_records_per_s`, for these 20,000-character records). The server
 * process runs the Shield processor as production does, its threads and per-company quota from the default
 * configuration.
 */

const RECORDS = 1000;
const CONTENT_CHARS = 20_000;
/** B's clients reading at once, each one request after another. */
const READERS = 4;

const SENTENCES = [
  'I have contacted you three times about the broken fridge and nobody answers.',
  'This is unacceptable, I want a refund or I will report you to the consumer regulator.',
  'The engineer did not show up again and I took a day off work for nothing!!!',
  'Thanks for the update, the replacement part seems to work fine for now.',
  'If this is not fixed by Friday I am cancelling my contract and telling everyone.',
  'Why do I have to explain the same problem to every agent? Escalate this to a manager.',
];

/** Posts A's batch and waits until every record is scored; answers when it was sent, accepted and all scored. */
async function flood(sut: BenchChild, base: string, key: string, body: string) {
  const from = epochMs();
  const res = await request(`${base}/api/v1/feedback`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body,
  });
  const answer = await res.body.text();
  if (res.statusCode !== 202) throw new Error(`POST /api/v1/feedback answered ${res.statusCode}: ${answer}`);
  const accepted = epochMs();
  const deadline = accepted + 600_000;
  while ((await sut.call<number>('shieldUnscored')) > 0) {
    if (epochMs() > deadline) throw new Error('feedback still unscored after 10 minutes');
    await sleep(50);
  }
  return { from, accepted, to: epochMs() };
}

const batchBody = (prefix: string) =>
  JSON.stringify({
    records: Array.from({ length: RECORDS }, (_, i) => ({
      id: `${prefix}-${i}`,
      source: 'Bench',
      content: content(i),
    })),
  });

function content(i: number): string {
  let text = `Record ${i}. `;
  for (let s = i; text.length < CONTENT_CHARS; s++) text += SENTENCES[s % SENTENCES.length] + ' ';
  return text.slice(0, CONTENT_CHARS);
}

interface Sample {
  at: number;
  ms: number;
}

/** `READERS` loops reading B's list until stopped; every answer must be a 200. */
function readLoad(base: string, key: string) {
  const agent = new Agent({ connections: READERS });
  const samples: Sample[] = [];
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      const at = epochMs();
      const res = await request(`${base}/api/v1/complaints`, {
        headers: { authorization: `Bearer ${key}` },
        dispatcher: agent,
      });
      await res.body.text();
      if (res.statusCode !== 200) throw new Error(`GET /api/v1/complaints answered ${res.statusCode}`);
      samples.push({ at, ms: epochMs() - at });
    }
  };
  const loops = Promise.all(Array.from({ length: READERS }, loop));
  return {
    samples,
    async stop() {
      stopped = true;
      await loops;
      await agent.close();
    },
  };
}

const p99 = (samples: Sample[], from: number, to: number) =>
  percentile(
    samples
      .filter((s) => s.at >= from && s.at <= to)
      .map((s) => s.ms)
      .sort((a, b) => a - b),
    99,
  );

export async function shield(ctx: BenchContext): Promise<ScenarioResult> {
  const sut = await ctx.child('processes/escalatr', 'shield');
  await sut.call('open', {
    store: { kind: 'sqlite', file: join(ctx.tempDir(), 'shield.db') },
    masterKeyHex: ctx.masterKeyHex,
    migrate: true,
  });
  await sut.call('seed', { code: 'SHLD', companies: 2, endpoints: [] });
  // Complaints for both companies, so B's list page is a full one.
  await sut.call('commit', { count: 400 });
  const floodKey = await sut.call<string>('apiKey', { tenant: 0 });
  const readerKey = await sut.call<string>('apiKey', { tenant: 1 });
  const processor = await sut.call<{ threads: number; companyInFlight: number }>('shieldStart');
  const { port } = await sut.call<{ port: number }>('listen');
  const base = `http://127.0.0.1:${port}`;
  const load = readLoad(base, readerKey);
  let idle: { from: number; to: number };
  let read: { from: number; accepted: number; to: number };
  try {
    // The first requests compile and prepare what every later one reuses: not part of either figure.
    await sleep(1000);
    const idleFrom = epochMs();
    await sleep(ctx.plan.quick ? 2000 : 5000);
    idle = { from: idleFrom, to: epochMs() };
    read = await flood(sut, base, floodKey, batchBody('read'));
  } finally {
    await load.stop();
  }
  const alone = await flood(sut, base, floodKey, batchBody('alone'));

  const perSecond = (RECORDS / (alone.to - alone.accepted)) * 1000;
  const floodP99 = p99(load.samples, read.from, read.to);
  const idleP99 = p99(load.samples, idle.from, idle.to);
  const during = load.samples.filter((s) => s.at >= read.from && s.at <= read.to);
  const seconds = (w: { accepted: number; to: number }) => ((w.to - w.accepted) / 1000).toFixed(1);
  ctx.log(
    `shield: ${RECORDS} × ${CONTENT_CHARS.toLocaleString('en')} chars scored in ${seconds(read)} s while another company read (its list p99 ${floodP99?.toFixed(1)} ms, idle ${idleP99?.toFixed(1)} ms), in ${seconds(alone)} s alone (${Math.round(perSecond)}/s, ${processor.threads} thread(s))`,
  );
  return {
    values: { shield_records_per_s: perSecond, shield_flood_api_p99_ms: floodP99 },
    details: {
      records: RECORDS,
      content_chars: CONTENT_CHARS,
      threads: processor.threads,
      company_in_flight: processor.companyInFlight,
      readers: READERS,
      ingest_ms: Math.round(read.accepted - read.from),
      scoring_ms_while_read: Math.round(read.to - read.accepted),
      scoring_ms_alone: Math.round(alone.to - alone.accepted),
      requests_during_flood: during.length,
      max_during_flood_ms: Number(during.reduce((max, s) => Math.max(max, s.ms), 0).toFixed(1)),
      idle_p99_ms: idleP99,
    },
  };
}
