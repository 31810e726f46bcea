import type { Database, Tx } from '../../database/sql';
import { AppSettings } from '../config/app.settings';
import { DependencyError } from '../errors/dependency-error';
import { IdGenerator } from './id-generator';
import type { NodeLeasesRepository } from './node-leases.repository';

const EPOCH = Date.UTC(2024, 0, 1);

async function generator(nodeId: number): Promise<IdGenerator> {
  const ids = new IdGenerator({ nodeId } as AppSettings, {} as Database, {} as NodeLeasesRepository);
  await ids.onModuleInit();
  return ids;
}

const nodeOf = (id: string) => Number((BigInt(id) >> 12n) & 1023n);
const millisOf = (id: string) => Number(BigInt(id) >> 22n) + EPOCH;

describe(IdGenerator.name, () => {
  it('refuses to generate before a node id is assigned', () => {
    const ids = new IdGenerator({} as AppSettings, {} as Database, {} as NodeLeasesRepository);
    expect(() => ids.next()).toThrow('IdGenerator used before its node id was assigned');
  });

  it('makes decimal strings of a 64-bit number carrying the time and the node id', async () => {
    const ids = await generator(513);
    const before = Date.now();
    const id = ids.next();
    const after = Date.now();
    expect(id).toMatch(/^[1-9]\d{16,18}$/);
    expect(BigInt(id) < 2n ** 63n).toBe(true);
    expect(nodeOf(id)).toBe(513);
    expect(millisOf(id)).toBeGreaterThanOrEqual(before);
    expect(millisOf(id)).toBeLessThanOrEqual(after);
    expect(ids.nodeId).toBe(513);
  });

  it('is strictly increasing and unique over 10 000 IDs made in a tight loop', async () => {
    const ids = await generator(1);
    const made: bigint[] = [];
    for (let i = 0; i < 10_000; i++) made.push(BigInt(ids.next()));
    for (let i = 1; i < made.length; i++) {
      if (made[i] <= made[i - 1]) throw new Error(`ID ${i} (${made[i]}) is not greater than ${made[i - 1]}`);
    }
    expect(new Set(made).size).toBe(10_000);
    expect(made.every((id) => nodeOf(id.toString()) === 1)).toBe(true);
  });

  it('keeps increasing when the system clock goes back', async () => {
    const ids = await generator(3);
    const now = jest.spyOn(Date, 'now');
    try {
      now.mockReturnValue(EPOCH + 5_000_000);
      const first = BigInt(ids.next());
      now.mockReturnValue(EPOCH + 4_000_000);
      const second = BigInt(ids.next());
      expect(second > first).toBe(true);
    } finally {
      now.mockRestore();
    }
  });

  it('borrows the next millisecond when 4096 IDs are taken within one', async () => {
    const ids = await generator(9);
    const now = jest.spyOn(Date, 'now').mockReturnValue(EPOCH + 1_000);
    try {
      const made = Array.from({ length: 4097 }, () => ids.next());
      expect(millisOf(made[4095])).toBe(EPOCH + 1_000);
      expect(millisOf(made[4096])).toBe(EPOCH + 1_001);
      expect(new Set(made).size).toBe(4097);
    } finally {
      now.mockRestore();
    }
  });

  it('never collides between two generators with different node ids, even in the same millisecond', async () => {
    const [a, b] = await Promise.all([generator(0), generator(1023)]);
    const now = jest.spyOn(Date, 'now').mockReturnValue(EPOCH + 42);
    try {
      const fromA = Array.from({ length: 3000 }, () => a.next());
      const fromB = Array.from({ length: 3000 }, () => b.next());
      expect(new Set([...fromA, ...fromB]).size).toBe(6000);
      expect(nodeOf(fromA[0])).toBe(0);
      expect(nodeOf(fromB[0])).toBe(1023);
    } finally {
      now.mockRestore();
    }
  });
});

type Lease = { nodeId: number; holder: string; expiresAt: Date };

describe(`${IdGenerator.name} with a leased node id`, () => {
  /** A lease table of one row in memory, whose statements can be made to fail. */
  function leaseTable() {
    const refuseWhenDown = () => {
      if (table.down) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    };
    const table = {
      row: undefined as Lease | undefined,
      down: false,
      takeOver: jest.fn(async (_tx: Tx, nodeId: number, holder: string, expiresAt: Date, now: Date) => {
        refuseWhenDown();
        // only an expired lease is taken over
        if (table.row?.nodeId !== nodeId || !(table.row.expiresAt < now)) return false;
        table.row = { nodeId, holder, expiresAt };
        return true;
      }),
      insert: jest.fn(async (_tx: Tx, nodeId: number, holder: string, expiresAt: Date) => {
        refuseWhenDown();
        if (table.row?.nodeId === nodeId) return false;
        table.row = { nodeId, holder, expiresAt };
        return true;
      }),
      renew: jest.fn(async (_tx: Tx, nodeId: number, holder: string, expiresAt: Date) => {
        refuseWhenDown();
        if (table.row?.nodeId !== nodeId || table.row.holder !== holder) return false;
        table.row.expiresAt = expiresAt;
        return true;
      }),
      release: jest.fn(async () => refuseWhenDown()),
    };
    return table;
  }

  beforeEach(() => jest.useFakeTimers({ now: Date.UTC(2026, 0, 1) }));
  afterEach(() => jest.useRealTimers());

  async function leased(table: ReturnType<typeof leaseTable>) {
    const db = { isOpen: true, transaction: (work: (tx: Tx) => Promise<unknown>) => work({} as Tx) } as Database;
    const ids = new IdGenerator({} as AppSettings, db, table as unknown as NodeLeasesRepository);
    await ids.onModuleInit();
    return ids;
  }

  it('keeps issuing while renewals succeed', async () => {
    const table = leaseTable();
    const ids = await leased(table);
    for (let i = 0; i < 8; i++) await jest.advanceTimersByTimeAsync(30_000);
    expect(nodeOf(ids.next())).toBe(table.row!.nodeId);
    await ids.onModuleDestroy().catch(() => undefined);
  });

  it('stops issuing (503) before an unrenewed lease runs out, and goes on once a renewal succeeds', async () => {
    const table = leaseTable();
    const ids = await leased(table);
    table.down = true;
    await jest.advanceTimersByTimeAsync(60_000);
    expect(() => ids.next()).not.toThrow();
    await jest.advanceTimersByTimeAsync(30_000); // 90 s unrenewed: within 30 s of the lease's end
    expect(() => ids.next()).toThrow(DependencyError);
    table.down = false;
    await jest.advanceTimersByTimeAsync(30_000);
    expect(() => ids.next()).not.toThrow();
    table.down = true;
    await ids.onModuleDestroy().catch(() => undefined);
  });

  it('leases another node id when its own was taken over after running out', async () => {
    const table = leaseTable();
    const ids = await leased(table);
    const first = ids.nodeId;
    // another instance holds it now; the fake table keeps one row, so a new lease replaces that row
    table.row = { nodeId: first, holder: 'another instance', expiresAt: new Date(Date.now() + 120_000) };
    table.insert.mockImplementation(async (_tx, nodeId, holder, expiresAt) => {
      if (nodeId === first) return false;
      table.row = { nodeId, holder, expiresAt };
      return true;
    });
    await jest.advanceTimersByTimeAsync(30_000);
    expect(ids.nodeId).not.toBe(first);
    expect(nodeOf(ids.next())).toBe(ids.nodeId);
    table.down = true;
    await ids.onModuleDestroy().catch(() => undefined);
  });
});
