import pino from 'pino';
import { IngestCoalescer } from '../src/engine/ingestion/ingest-coalescer';
import { jobContext } from '../src/tenancy/tenant-context';

/**
 * Group commit for `track`: calls of one tenant that arrive while its transactions are busy
 * share the next one, and every call still gets its own outcome — also when the shared
 * transaction fails (each is then tried alone). Driven with a fake store whose transactions
 * finish when the test says so.
 */

const log = pino({ level: 'silent' });
const ctxOf = (tenantId: string) => jobContext(tenantId, log);

interface Gate {
  items: string[];
  tenantId: string;
  finish(): void;
}

function gatedStore(fails: (items: string[]) => boolean) {
  const calls: Gate[] = [];
  const store = (ctx: { tenantId: string }, items: string[]) =>
    new Promise<string[]>((resolve, reject) => {
      calls.push({
        items,
        tenantId: ctx.tenantId,
        finish: () =>
          fails(items) ? reject(new Error('rolled back')) : resolve(items.map((i) => `ok:${i}`)),
      });
    });
  return { calls, store };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('IngestCoalescer', () => {
  it('an idle tenant’s call is stored at once, alone', async () => {
    const { calls, store } = gatedStore(() => false);
    const coalescer = new IngestCoalescer(
      { maxInFlightPerTenant: 1, maxPerTransaction: 10 },
      store,
    );
    const a = coalescer.submit(ctxOf('t1'), 'a');
    await settle();
    expect(calls.map((c) => c.items)).toEqual([['a']]);
    calls[0].finish();
    await expect(a).resolves.toBe('ok:a');
  });

  it('calls arriving while the tenant’s transactions are busy share the next one, in order, each with its own result', async () => {
    const { calls, store } = gatedStore(() => false);
    const coalescer = new IngestCoalescer({ maxInFlightPerTenant: 2, maxPerTransaction: 3 }, store);
    const results = ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((i) =>
      coalescer.submit(ctxOf('t1'), i),
    );
    await settle();
    expect(calls.map((c) => c.items)).toEqual([['a'], ['b']]);
    calls[0].finish();
    await settle();
    expect(calls.map((c) => c.items)).toEqual([['a'], ['b'], ['c', 'd', 'e']]);
    calls[1].finish();
    await settle();
    expect(calls[3].items).toEqual(['f', 'g']);
    calls[2].finish();
    calls[3].finish();
    await expect(Promise.all(results)).resolves.toEqual(
      ['a', 'b', 'c', 'd', 'e', 'f', 'g'].map((i) => `ok:${i}`),
    );
  });

  it('tenants never share a transaction nor wait for each other', async () => {
    const { calls, store } = gatedStore(() => false);
    const coalescer = new IngestCoalescer(
      { maxInFlightPerTenant: 1, maxPerTransaction: 10 },
      store,
    );
    void coalescer.submit(ctxOf('t1'), 'a');
    void coalescer.submit(ctxOf('t1'), 'b');
    void coalescer.submit(ctxOf('t2'), 'x');
    await settle();
    expect(calls.map((c) => [c.tenantId, c.items])).toEqual([
      ['t1', ['a']],
      ['t2', ['x']],
    ]);
  });

  it('a failed shared transaction is tried call by call: only the failing call fails', async () => {
    const { calls, store } = gatedStore((items) => items.includes('bad'));
    const coalescer = new IngestCoalescer(
      { maxInFlightPerTenant: 1, maxPerTransaction: 10 },
      store,
    );
    const first = coalescer.submit(ctxOf('t1'), 'a');
    const rest = ['b', 'bad', 'c'].map((i) => coalescer.submit(ctxOf('t1'), i));
    await settle();
    calls[0].finish();
    await settle();
    expect(calls[1].items).toEqual(['b', 'bad', 'c']);
    calls[1].finish();
    await settle();
    expect(calls.slice(2).map((c) => c.items)).toEqual([['b'], ['bad'], ['c']]);
    for (const call of calls.slice(2)) call.finish();
    await expect(first).resolves.toBe('ok:a');
    await expect(rest[0]).resolves.toBe('ok:b');
    await expect(rest[1]).rejects.toThrow('rolled back');
    await expect(rest[2]).resolves.toBe('ok:c');
  });
});
