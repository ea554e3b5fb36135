import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ArmBudget } from '../../src/activities/arm-budget';
import { WriteQueueRate } from '../../src/activities/write-queue-rate';

const SUB = '3f1c9a2e-7b64-4d0e-a5c8-0000000000a1';
const OTHER = '3f1c9a2e-7b64-4d0e-a5c8-0000000000a2';

/**
 * A steering on a virtual clock whose queue is "the server": `rate()` is what the server holds
 * the queue to after every change sent so far has landed. `hold()` keeps the next changes in
 * flight until `land()`.
 */
async function steering(floor = 9, refuse?: Error) {
  let now = 0;
  const server = new Map<string, number>();
  const sent: number[] = [];
  let held: (() => void)[] | undefined;
  const rate = new WriteQueueRate(floor, undefined, undefined, () => now);
  const status = await rate.start([SUB], async (subscriptionId, perSecond) => {
    if (refuse) throw refuse;
    if (held) await new Promise<void>((resolve) => held!.push(resolve));
    server.set(subscriptionId, perSecond);
    sent.push(perSecond);
  });
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return {
    rate,
    status,
    sent,
    queueRate: async () => {
      await settle();
      return server.get(SUB);
    },
    advance: (ms: number) => (now += ms),
    hold: () => (held = []),
    land: async () => {
      const waiting = held ?? [];
      held = undefined;
      for (const resolve of waiting) resolve();
      await settle();
      await settle();
    },
  };
}

describe("the write queue's rate, steered by ARM's write bucket", () => {
  test("when a worker starts, then each subscription's queue is set to the configured rate (the server then ignores the workers' own)", async () => {
    const s = await steering(9);
    assert.match(s.status, /^steered/);
    assert.equal(await s.queueRate(), 9);
  });

  test('when ARM says its write bucket is full (200), then the queue spends it over 3 s on top of the configured rate (no reserve): 9 + 200 / 3 = 75.7 writes/s', async () => {
    const s = await steering(9);
    s.rate.observe(SUB, 'writes', 200);
    assert.equal(await s.queueRate(), 75.7);
  });

  test('when the bucket is drained, or ARM answers 429 (0 left), then the queue is back at the configured rate at once, even within a second of a rise', async () => {
    const s = await steering(9);
    s.rate.observe(SUB, 'writes', 200);
    s.advance(100);
    s.rate.observe(SUB, 'writes', 0);
    assert.equal(await s.queueRate(), 9);
    s.advance(5_000);
    s.rate.observe(SUB, 'writes', 200);
    assert.equal(await s.queueRate(), 75.7);
    s.rate.observe(SUB, 'writes', 0);
    assert.equal(await s.queueRate(), 9);
  });

  test('when the bucket fills again within a second of the last change, then the rise waits for the next answer after that second; small rises are not sent at all', async () => {
    const s = await steering(9);
    s.rate.observe(SUB, 'writes', 50);
    assert.equal(await s.queueRate(), 25.7);
    s.advance(500);
    s.rate.observe(SUB, 'writes', 200);
    assert.equal(await s.queueRate(), 25.7, 'a rise within a second of the last change waits');
    s.advance(600);
    s.rate.observe(SUB, 'writes', 52);
    assert.equal(await s.queueRate(), 25.7, 'under a fifth more is not worth a change');
    s.rate.observe(SUB, 'writes', 200);
    assert.equal(await s.queueRate(), 75.7);
    assert.deepEqual(s.sent, [9, 25.7, 75.7]);
  });

  test('when the bucket drains answer by answer, then the rate falls in steps of a fifth or more at most once a second, and to the configured rate at once', async () => {
    const s = await steering(9);
    s.rate.observe(SUB, 'writes', 200);
    for (let tokens = 198; tokens >= 0; tokens -= 2) {
      s.advance(50);
      s.rate.observe(SUB, 'writes', tokens);
      await s.queueRate();
    }
    // 200 → 0 over 5 s, 20 answers a second: one change a second on the way down, then the floor
    // as soon as the bucket is empty (5 s in).
    assert.deepEqual(s.sent, [9, 75.7, 60.3, 47, 33.7, 20.3, 9]);
  });

  test('when the bucket hovers just above empty, as a long fleet keeps it, then the queue stays at the configured rate until the bucket allows a fifth more (9 → 10.8/s)', async () => {
    const s = await steering(9);
    for (const tokens of [2, 4, 5, 3, 1, 5]) {
      s.advance(1_100);
      s.rate.observe(SUB, 'writes', tokens);
    }
    assert.equal(await s.queueRate(), 9);
    s.advance(1_100);
    s.rate.observe(SUB, 'writes', 6);
    assert.equal(await s.queueRate(), 11);
    assert.deepEqual(s.sent, [9, 11]);
  });

  test('when answers arrive while a change is still on its way to the server, then only the latest rate wanted follows it', async () => {
    const s = await steering(9);
    s.hold();
    s.rate.observe(SUB, 'writes', 200);
    s.rate.observe(SUB, 'writes', 120);
    s.rate.observe(SUB, 'writes', 40);
    s.rate.observe(SUB, 'writes', 0);
    await s.land();
    assert.equal(await s.queueRate(), 9);
    assert.deepEqual(s.sent, [9, 75.7, 9]);
  });

  test('when the server does not take a change, then the next answer sets the rate it calls for, however small the difference, and the failure is reported', async () => {
    let now = 0;
    const server: number[] = [];
    const errors: string[] = [];
    let fail = false;
    const rate = new WriteQueueRate(
      9,
      undefined,
      (e) => errors.push(e.message),
      () => now,
    );
    await rate.start([SUB], (_subscriptionId, perSecond) => {
      if (fail) return Promise.reject(new Error('frontend unavailable'));
      server.push(perSecond);
      return Promise.resolve();
    });
    const settle = () => new Promise((resolve) => setImmediate(resolve));
    rate.observe(SUB, 'writes', 200);
    await settle();
    fail = true;
    now += 1_100;
    rate.observe(SUB, 'writes', 140);
    await settle();
    fail = false;
    now += 1_100;
    rate.observe(SUB, 'writes', 138);
    await settle();
    assert.deepEqual(server, [9, 75.7, 55], 'the server holds 75.7/s until 55/s is taken');
    assert.deepEqual(errors, ['frontend unavailable']);
  });

  test("when the server does not take a queue's rate at start, then the worker says why and the queues keep the workers' rate", async () => {
    const s = await steering(9, new Error('unimplemented: UpdateTaskQueueConfig'));
    assert.match(s.status, /^the workers' rate only: .*UpdateTaskQueueConfig/);
    s.rate.observe(SUB, 'writes', 200);
    assert.equal(await s.queueRate(), undefined);
    assert.equal(s.rate.rateOf(SUB), undefined);
  });

  test('when reads or a subscription the worker does not poll are answered, then no queue changes; the rate never passes the ceiling of 100/s', async () => {
    const s = await steering(9);
    s.rate.observe(SUB, 'reads', 250);
    s.rate.observe(OTHER, 'writes', 200);
    assert.equal(await s.queueRate(), 9);
    assert.equal(s.rate.rateOf(OTHER), undefined);
    assert.equal(new WriteQueueRate(9).rateFor(10_000), 100);
  });

  test("when an ARM budget is given the steering's observer, then its first write after a quiet spell raises the rate before ARM answers (the bucket refilled: 9 + 199 / 3), and every answer ARM gives a write sets the rate from the budget's belief (ARM's count less the writes still in flight)", async () => {
    const s = await steering(9);
    const limit = { burst: 200, perSecond: 10 };
    const budget = new ArmBudget(
      { reads: limit, writes: limit, deletes: limit },
      () => 0,
      () => Promise.resolve(),
      s.rate.observe,
    );
    const first = await budget.take(SUB, 'writes');
    assert.equal(await s.queueRate(), 75.3, 'raised as the first write goes, from the belief');
    for (let i = 0; i < 59; i++) await budget.take(SUB, 'writes');
    s.advance(1_000);
    // ARM answered the first write with 199 left; the 59 sent since may not have reached it.
    budget.observe(SUB, 'writes', 199, first);
    assert.equal(budget.balance(SUB, 'writes'), 140);
    assert.equal(await s.queueRate(), 55.7, '9 + 140 / 3');
  });
});
