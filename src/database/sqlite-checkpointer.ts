import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DataSource } from 'typeorm';
import { sqliteConnection } from './sqlite.adapter';

/** How often the worker copies the write-ahead log back into the database file. */
export const CHECKPOINT_INTERVAL_MS = 250;

/** What the worker reports after each checkpoint that had frames to copy. */
export interface CheckpointReport {
  /** frames in the log, and how many of them are in the database file now */
  log: number;
  checkpointed: number;
}

// Runs in the worker thread: its own connection to the same file; PASSIVE never blocks a writer.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
const checkpoint = () => {
  const [row] = db.pragma('wal_checkpoint(PASSIVE)');
  if (row.log > 0) parentPort.postMessage({ log: row.log, checkpointed: row.checkpointed });
};
const timer = setInterval(() => {
  try { checkpoint(); } catch (error) { parentPort.postMessage({ error: String(error && error.message) }); }
}, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
parentPort.postMessage({ ready: true });
`;

/**
 * Checkpoints in a worker thread, so their fsync never stalls a commit on the event loop; should
 * the worker stop, the connection checkpoints by itself again (ADR 0013).
 */
@Injectable()
export class SqliteCheckpointer implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(SqliteCheckpointer.name);
  private worker?: Worker;
  private stopping = false;
  /** The latest checkpoint the worker made (for tests and diagnostics). */
  lastReport?: CheckpointReport;

  constructor(private readonly dataSource: DataSource) {}

  async onApplicationBootstrap(): Promise<void> {
    const options = this.dataSource.options;
    if (options.type !== 'better-sqlite3' || options.database === ':memory:') return;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: {
        driver: require.resolve('better-sqlite3'),
        file: resolve(options.database),
        intervalMs: CHECKPOINT_INTERVAL_MS,
      },
    });
    await new Promise<void>((ready, fail) => {
      worker.once('error', fail);
      worker.once('message', () => {
        worker.off('error', fail);
        ready();
      });
    });
    this.worker = worker;
    // a full disk fails every checkpoint until there is room again: one line when they stop, one when they resume
    let failing = false;
    worker.on('message', (message: CheckpointReport | { error: string }) => {
      if ('error' in message) {
        if (!failing) this.logger.warn(`SQLite checkpoint failed: ${message.error}`);
        failing = true;
        return;
      }
      if (failing) this.logger.log('SQLite checkpoints resumed');
      failing = false;
      this.lastReport = message;
    });
    worker.on('error', (error) => this.logger.error(`SQLite checkpoint worker failed: ${error.message}`));
    worker.once('exit', () => {
      this.worker = undefined;
      if (!this.stopping) this.connection().pragma('wal_autocheckpoint = 1000');
    });
    this.connection().pragma('wal_autocheckpoint = 0');
  }

  async onModuleDestroy(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.stopping = true;
    const exited = new Promise((done) => worker.once('exit', done));
    worker.postMessage('stop');
    await exited;
    // the connection's last close checkpoints the rest
    if (this.dataSource.isInitialized) this.connection().pragma('wal_autocheckpoint = 1000');
  }

  private connection() {
    return sqliteConnection(this.dataSource);
  }
}
