import { PeriodicTask } from './periodic-task';

describe(PeriodicTask.name, () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs every interval once started, until stopped', async () => {
    const run = jest.fn(() => Promise.resolve());
    const sut = new PeriodicTask(run);
    await jest.advanceTimersByTimeAsync(5_000);
    expect(run).not.toHaveBeenCalled();
    sut.start(1_000);
    await jest.advanceTimersByTimeAsync(3_000);
    expect(run).toHaveBeenCalledTimes(3);
    sut.stop();
    await jest.advanceTimersByTimeAsync(5_000);
    expect(run).toHaveBeenCalledTimes(3);
  });

  it('skips a tick while the last run is under way, and survives a run that fails', async () => {
    let finish = () => undefined as void;
    const run = jest
      .fn<Promise<unknown>, []>()
      .mockImplementationOnce(() => new Promise<void>((resolve) => (finish = resolve)))
      .mockImplementationOnce(() => Promise.reject(new Error('failed')))
      .mockImplementation(() => Promise.resolve());
    const sut = new PeriodicTask(run);
    sut.start(1_000);
    await jest.advanceTimersByTimeAsync(3_000);
    expect(run).toHaveBeenCalledTimes(1);
    finish();
    await jest.advanceTimersByTimeAsync(2_000);
    expect(run).toHaveBeenCalledTimes(3);
    sut.stop();
  });

  it("keeps no process alive: its timer is unref'd", () => {
    const unref = jest.spyOn(global, 'setInterval');
    const sut = new PeriodicTask(() => Promise.resolve());
    sut.start(1_000);
    const timer = unref.mock.results[0].value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    sut.stop();
  });
});
