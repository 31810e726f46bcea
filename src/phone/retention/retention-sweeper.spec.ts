import { DependencyError } from '../../common/errors/dependency-error';
import { DependencyOutages } from '../../common/errors/dependency-outages';
import type { AppLogger } from '../../common/logging/app-logger';
import { Metrics } from '../../common/metrics/metrics';
import type { Pruned, RetentionPruner } from './retention-pruner';
import { RETENTION_SWEEP_INTERVAL_MS, RetentionSweeper } from './retention-sweeper';

const NOTHING: Pruned = {
  outbox: 0,
  receipts: 0,
  fraud_counts: 0,
  spend_counts: 0,
  verified_numbers: 0,
  limit_hits: 0,
  limit_backoffs: 0,
  event_phones: 0,
  idempotency_keys: 0,
  webhooks: 0,
};

describe(RetentionSweeper.name, () => {
  let sut: RetentionSweeper;
  let prune: jest.Mock<Promise<Pruned>, []>;
  let metrics: Metrics;
  let outages: DependencyOutages;
  const lines: Array<{ level: string; msg: string }> = [];

  beforeEach(() => {
    lines.splice(0);
    const logger = {
      setContext: () => undefined,
      info: (_obj: object, msg: string) => lines.push({ level: 'info', msg }),
      error: (_obj: object, msg: string) => lines.push({ level: 'error', msg }),
    } as unknown as AppLogger;
    prune = jest.fn(() => Promise.resolve(NOTHING));
    metrics = new Metrics();
    outages = new DependencyOutages(logger);
    sut = new RetentionSweeper({ prune } as unknown as RetentionPruner, logger, outages, metrics);
  });
  afterEach(() => jest.useRealTimers());

  const prunedMetric = async (what: string) =>
    (await metrics.registry.getSingleMetric('pv_retention_pruned_total')!.get()).values.find(
      (v) => v.labels.what === what,
    )?.value ?? 0;

  it('sweeps on a timer of its own once the app has started, every RETENTION_SWEEP_INTERVAL_MS, until it stops', async () => {
    jest.useFakeTimers();
    sut.onApplicationBootstrap();
    expect(prune).not.toHaveBeenCalled();
    await jest.advanceTimersByTimeAsync(RETENTION_SWEEP_INTERVAL_MS);
    expect(prune).toHaveBeenCalledTimes(1);
    await jest.advanceTimersByTimeAsync(RETENTION_SWEEP_INTERVAL_MS);
    expect(prune).toHaveBeenCalledTimes(2);
    await sut.onModuleDestroy();
    await jest.advanceTimersByTimeAsync(3 * RETENTION_SWEEP_INTERVAL_MS);
    expect(prune).toHaveBeenCalledTimes(2);
  });

  it('runs one sweep at a time: a sweep asked for while one runs joins it', async () => {
    let finish!: (pruned: Pruned) => void;
    prune.mockImplementationOnce(() => new Promise((resolve) => (finish = resolve)));
    const first = sut.sweep();
    const second = sut.sweep();
    finish({ ...NOTHING, outbox: 2 });
    expect(await Promise.all([first, second])).toEqual([
      { ...NOTHING, outbox: 2 },
      { ...NOTHING, outbox: 2 },
    ]);
    expect(prune).toHaveBeenCalledTimes(1);
  });

  it('counts and logs what it pruned, and logs nothing when nothing was', async () => {
    prune.mockResolvedValueOnce({ ...NOTHING, outbox: 3, event_phones: 2 });
    await sut.sweep();
    expect([await prunedMetric('outbox'), await prunedMetric('event_phones'), await prunedMetric('receipts')]).toEqual([
      3, 2, 0,
    ]);
    expect(lines).toEqual([{ level: 'info', msg: 'Retention sweep' }]);
    await sut.sweep();
    expect(lines).toHaveLength(1);
  });

  it('notes a database outage once and tries again next time; anything else is logged as a bug', async () => {
    const failed = jest.spyOn(outages, 'failed');
    prune.mockRejectedValueOnce(
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
    );
    expect(await sut.sweep()).toBeUndefined();
    expect(failed).toHaveBeenCalledWith(expect.any(DependencyError));
    prune.mockRejectedValueOnce(new TypeError('a bug'));
    expect(await sut.sweep()).toBeUndefined();
    expect(lines.at(-1)).toEqual({ level: 'error', msg: 'Retention sweep failed' });
    expect(await sut.sweep()).toEqual(NOTHING);
  });
});
