import { afterEach, describe, expect, it } from 'vitest';
import { TransformRunner } from '../../src/webhooks/transform-runner.js';

const BODY = JSON.stringify({
  id: 'evt_abcdefgh',
  event: 'complaint.created',
  timestamp: '2026-06-01T09:00:00.000Z',
  data: { n: 1 },
});

/** The processes that evaluate JSONata transformations: whose turn comes when, and what a runaway costs others. */
describe('transformation processes', () => {
  let runner: TransformRunner;
  afterEach(async () => runner.close());

  it('take companies in turn: a company with a queue of expressions delays another by one evaluation, not its queue', async () => {
    runner = new TransformRunner({ processes: 1 });
    const done: string[] = [];
    const submit = (company: string, n: number) =>
      runner.run(company, `"${company}${n}"`, BODY).then((outcome) => {
        done.push(company + n);
        return outcome;
      });
    const all = [1, 2, 3, 4, 5].map((n) => submit('A', n));
    all.push(submit('B', 1), submit('B', 2), submit('C', 1));
    const outcomes = await Promise.all(all);
    expect(outcomes[0]).toEqual({ bytes: '"A1"' });
    expect(done).toEqual(['A1', 'B1', 'C1', 'A2', 'B2', 'A3', 'A4', 'A5']);
  });

  it("stops one company's runaway expression at the limit; the next company's evaluation then runs", async () => {
    runner = new TransformRunner({ processes: 1, hardLimitMs: 300 });
    const runaway = runner.run('A', '$match("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", /(a+)+$/)', BODY);
    const other = runner.run('B', 'data.n + 1', BODY);
    expect(await runaway).toEqual({ failure: 'ran longer than 300 ms' });
    expect(await other).toEqual({ bytes: '2' });
  });

  it("fails a company's evaluation at once when as many of its own already wait; other companies still queue", async () => {
    runner = new TransformRunner({ processes: 1, maxWaitingPerCompany: 2 });
    // Nothing runs until the process is ready: all of these wait.
    const a = [runner.run('A', '1', BODY), runner.run('A', '2', BODY), runner.run('A', '3', BODY)];
    const b = runner.run('B', '4', BODY);
    expect(await Promise.all([...a, b])).toEqual([
      { bytes: '1' },
      { bytes: '2' },
      { failure: "2 of this company's transformations were already waiting to run" },
      { bytes: '4' },
    ]);
  });

  it('refuses work once closed', async () => {
    runner = new TransformRunner();
    await runner.close();
    await expect(runner.run('A', '1', BODY)).rejects.toThrow(/closed/);
  });
});
