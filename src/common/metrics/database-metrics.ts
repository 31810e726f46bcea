import { Injectable, OnModuleInit } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { Database } from '../../database/sql';
import { statementErrorClass } from '../errors/dependency-error';
import { Metrics } from './metrics';

/**
 * `pv_database_pool_connections{state}` (PostgreSQL only) and `pv_database_statement_errors_total{code}`
 * by a bounded class of the error; both from the seam, so migrations are not counted.
 */
@Injectable()
export class DatabaseMetrics implements OnModuleInit {
  private readonly errors: Counter<'code'>;
  private readonly byClass = new Map<string, { inc(): void }>();

  constructor(
    private readonly metrics: Metrics,
    private readonly db: Database,
  ) {
    this.errors = new Counter({
      name: 'pv_database_statement_errors_total',
      help: 'Database statements that failed, by error class (SQLSTATE class, SQLite result code, connection, other)',
      labelNames: ['code'],
      registers: [metrics.registry],
    });
  }

  onModuleInit(): void {
    this.db.onStatementError((error) => this.count(error));
    if (this.db.poolStats()) this.watchPool();
  }

  /** One failed statement. */
  count(error: unknown): void {
    const code = statementErrorClass(error);
    let child = this.byClass.get(code);
    if (!child) this.byClass.set(code, (child = this.errors.labels(code)));
    child.inc();
  }

  private watchPool(): void {
    const db = this.db;
    new Gauge({
      name: 'pv_database_pool_connections',
      help: 'PostgreSQL pool connections: in_use (lent to a statement or transaction), idle, waiting (callers waiting for one)',
      labelNames: ['state'],
      registers: [this.metrics.registry],
      collect() {
        const stats = db.poolStats();
        if (!stats) return;
        this.set({ state: 'in_use' }, stats.inUse);
        this.set({ state: 'idle' }, stats.idle);
        this.set({ state: 'waiting' }, stats.waiting);
      },
    });
  }
}
