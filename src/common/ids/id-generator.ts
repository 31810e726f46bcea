import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { randomInt, randomUUID } from 'node:crypto';
import { Database } from '../../database/sql';
import { AppSettings } from '../config/app.settings';
import { DependencyError } from '../errors/dependency-error';
import { NodeLeasesRepository } from './node-leases.repository';
import { PeriodicTask } from '../workers/periodic-task';

const EPOCH = Date.UTC(2024, 0, 1);
const NODE_BITS = 10n;
const SEQUENCE_BITS = 12n;
const MAX_SEQUENCE = (1 << Number(SEQUENCE_BITS)) - 1;
const MAX_NODE = (1 << Number(NODE_BITS)) - 1;
const LEASE_MS = 120_000;
const RENEW_MS = 30_000;
/** IDs stop this long before the lease runs out unrenewed: another instance may take the node id once it has. */
const LEASE_MARGIN_MS = 30_000;

/**
 * 64-bit, time-ordered IDs as decimal strings: 41 bits of milliseconds since 2024, 10 bits of
 * node id, 12 bits of sequence. The node id comes from NODE_ID, or is leased from the database
 * so that instances sharing one database never hold the same one.
 */
@Injectable()
export class IdGenerator implements OnModuleInit, OnModuleDestroy {
  private node = -1;
  private lastMs = 0;
  private sequence = 0;
  private readonly holder = randomUUID();
  private readonly renewTimer = new PeriodicTask(() => this.renewLease());
  /** until when the leased node id is ours for sure (Infinity with NODE_ID) */
  private leasedUntil = Infinity;

  constructor(
    private readonly config: AppSettings,
    private readonly db: Database,
    private readonly leases: NodeLeasesRepository,
  ) {}

  async onModuleInit(): Promise<void> {
    if (this.config.nodeId !== undefined) {
      this.node = this.config.nodeId;
      return;
    }
    this.node = await this.leaseNode();
    this.renewTimer.start(RENEW_MS);
  }

  async onModuleDestroy(): Promise<void> {
    this.renewTimer.stop();
    if (this.config.nodeId === undefined && this.node >= 0 && this.db.isOpen) {
      const node = this.node;
      await this.db.transaction((tx) => this.leases.release(tx, node, this.holder));
    }
  }

  get nodeId(): number {
    return this.node;
  }

  next(): string {
    if (this.node < 0) throw new Error('IdGenerator used before its node id was assigned');
    if (Date.now() >= this.leasedUntil - LEASE_MARGIN_MS) {
      // renewals failed (the database was away): another instance may hold this node id by now
      throw new DependencyError('database', new Error('the node id lease could not be renewed'));
    }
    let now = Date.now();
    if (now < this.lastMs) now = this.lastMs; // the clock went back: keep counting on the last millisecond
    if (now === this.lastMs) {
      this.sequence++;
      if (this.sequence > MAX_SEQUENCE) {
        now = this.lastMs + 1; // sequence exhausted within one millisecond: borrow the next one
        this.sequence = 0;
      }
    } else {
      this.sequence = 0;
    }
    this.lastMs = now;
    const value =
      (BigInt(now - EPOCH) << (NODE_BITS + SEQUENCE_BITS)) |
      (BigInt(this.node) << SEQUENCE_BITS) |
      BigInt(this.sequence);
    return value.toString();
  }

  private async leaseNode(): Promise<number> {
    const start = randomInt(MAX_NODE + 1);
    for (let i = 0; i <= MAX_NODE; i++) {
      const nodeId = (start + i) % (MAX_NODE + 1);
      const expiresAt = new Date(Date.now() + LEASE_MS);
      // a lease that ran out is taken over, a node id nobody held is taken; else another instance holds it
      const taken = await this.db.transaction(
        async (tx) =>
          (await this.leases.takeOver(tx, nodeId, this.holder, expiresAt, new Date())) ||
          this.leases.insert(tx, nodeId, this.holder, expiresAt),
      );
      if (taken) return this.leased(nodeId, expiresAt);
    }
    throw new Error('no free node id: set NODE_ID or wait for stale leases to expire');
  }

  private leased(nodeId: number, expiresAt: Date): number {
    this.leasedUntil = expiresAt.getTime();
    return nodeId;
  }

  /**
   * A failed renewal (the database away) leaves the lease as it was: IDs stop before it runs out.
   * A renewal that finds the lease gone (it ran out and another instance took the node id) leases
   * another node id; none is issued until then.
   */
  private async renewLease(): Promise<void> {
    const expiresAt = new Date(Date.now() + LEASE_MS);
    try {
      const node = this.node;
      const renewed = await this.db.transaction((tx) => this.leases.renew(tx, node, this.holder, expiresAt));
      if (renewed) {
        this.leasedUntil = expiresAt.getTime();
        return;
      }
      this.leasedUntil = 0;
      this.node = await this.leaseNode();
    } catch {
      // the database is away: try again at the next renewal
    }
  }
}
