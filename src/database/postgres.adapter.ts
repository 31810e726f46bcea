import { createHash } from 'node:crypto';
import { statementSpan } from '../common/tracing/statement-spans';
import { QueryFailedError, type DataSource } from 'typeorm';
import { rowFactory, type RowFactory } from './row-factory';
import { Closing, type PoolStats, type SqlAdapter, type Tx, type Work } from './sql';

/*
 * Every internal of TypeORM and node-postgres the PostgreSQL side relies on is here, each pinned
 * by src/database/adapter-internals.spec.ts:
 * - TypeORM's driver keeps node-postgres's pool as `driver.master` (its connections have the
 *   search_path and the statement deadlines set);
 * - a node-postgres client writes to `client.connection.stream`, a socket that can be corked;
 * - a client runs any object whose prototype chain has node-postgres's `Query` (pipeline mode
 *   refuses other submittables): it calls the object's `submit(connection)`, which Query's
 *   prototype provides from `text`, `name`, `values` and `portal` and which calls the object's
 *   `prepare(connection)` for a named statement, then hands it each answer's messages
 *   (`handleRowDescription`, `handleDataRow`, `handleCommandComplete`, `handleEmptyQuery`,
 *   `handleError`, `handleReadyForQuery`) and sets its `callback`;
 * - the connection sends the extended protocol's messages (`parse`, `bind`, `describe`,
 *   `execute`, `sync`) and records the named statements it has sent to be parsed in
 *   `submittedNamedStatements`; node-postgres maps parameters with `prepareValue` of
 *   `pg/lib/utils`.
 */

interface PgResult {
  rows: unknown[];
  rowCount: number | null;
  /** the command tag: COMMIT answers ROLLBACK when the transaction had failed */
  command?: string;
}

type Answered = (error: Error | null, result?: PgResult) => void;

/** The part of node-postgres's client and pool used here. */
interface PgQueryable {
  query(statement: Statement, callback: Answered): unknown;
}

interface Corkable {
  cork?(): void;
  uncork?(): void;
  write?(chunk: unknown, encoding?: unknown, callback?: unknown): boolean;
  prependListener?(event: 'data', listener: () => void): unknown;
}

export interface PgClient extends PgQueryable {
  release(error?: Error): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
  connection?: { stream?: Corkable };
}

export interface PgPool extends PgQueryable {
  connect(): Promise<PgClient>;
  on(event: 'connect', listener: () => void): unknown;
  on(event: 'acquire', listener: (client: PgClient) => void): unknown;
  readonly totalCount: number;
  readonly idleCount: number;
  readonly waitingCount: number;
}

// eslint-disable-next-line @typescript-eslint/no-require-imports
const pg = require('pg') as {
  Query: { prototype: { hasBeenParsed(connection: PgConnection): boolean } };
  types: { getTypeParser(oid: number, format: 'text'): (text: string) => unknown };
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { prepareValue } = require('pg/lib/utils') as { prepareValue: (value: unknown) => unknown };

/** The part of node-postgres's connection (one per client) a statement writes to. */
export interface PgConnection {
  submittedNamedStatements: Record<string, string>;
  parse(message: { text: string; name?: string }): void;
  bind(message: {
    portal: string;
    statement?: string;
    values?: unknown[];
    binary: boolean;
    valueMapper: (value: unknown) => unknown;
  }): void;
  describe(message: { type: 'P'; name: string }): void;
  execute(message: { portal: string }): void;
  sync(): void;
}

/** A column of a RowDescription message. */
interface PgField {
  name: string;
  dataTypeID: number;
}

/** How the rows of one prepared statement are read: its columns' parsers and its row factory. */
interface RowReader {
  fields: PgField[];
  parsers: ((text: string) => unknown)[];
  toRow: RowFactory;
}

/** Row readers by statement name (a statement's columns are those of its text: one per name). */
const readers = new Map<string, RowReader>();

/**
 * The readers of the statements each connection has described, by name. A statement prepared on a
 * connection keeps its result's columns and types there (PostgreSQL refuses to run it should a
 * schema change alter them), so once described it runs without a Describe: on every execution
 * after the first, PostgreSQL sends no RowDescription and nobody parses one.
 */
const described = new WeakMap<PgConnection, Map<string, RowReader>>();

function describedOn(connection: PgConnection): Map<string, RowReader> {
  let known = described.get(connection);
  if (!known) described.set(connection, (known = new Map()));
  return known;
}

function sameFields(a: PgField[], b: PgField[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i].name !== b[i].name || a[i].dataTypeID !== b[i].dataTypeID) return false;
  }
  return true;
}

function readerFor(key: string, fields: PgField[]): RowReader {
  const known = readers.get(key);
  if (known && sameFields(known.fields, fields)) return known;
  const reader: RowReader = {
    fields: fields.map(({ name, dataTypeID }) => ({ name, dataTypeID })),
    parsers: fields.map((field) => pg.types.getTypeParser(field.dataTypeID, 'text')),
    toRow: rowFactory(fields.map((field) => field.name)),
  };
  if (key) readers.set(key, reader);
  return reader;
}

/** The command tag's parts: "UPDATE 3", "INSERT 0 1", "SELECT 2", "COMMIT". */
function tagged(result: PgResult, tag: string): void {
  const space = tag.indexOf(' ');
  result.command = space < 0 ? tag : tag.slice(0, space);
  if (space < 0) return;
  // the last word's digits, read in place
  let count = 0;
  let scale = 1;
  let i = tag.length - 1;
  for (; i > space; i--, scale *= 10) {
    const digit = tag.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) break;
    count += digit * scale;
  }
  if (i < tag.length - 1 && tag.charCodeAt(i) === 32) result.rowCount = count;
}

/**
 * One statement as node-postgres runs it, without what its own `Query` spends on every
 * execution (copying the query config through property descriptors, an EventEmitter, a Result
 * that builds a dictionary-mode row template from every RowDescription and each row by spreading
 * it). It sends Parse once per connection, then Bind, Execute and Sync, and a Describe only
 * where its rows are wanted and its connection has not described it yet (a statement run for its
 * count needs none); the client treats it as its own. Only the answer is read here: each column
 * parsed by node-postgres's type parsers, each row made by the statement's cached row factory.
 */
interface Statement {
  text: string;
  name: string | undefined;
  values: unknown[] | undefined;
  portal: string;
  callback: Answered | undefined;
  result: PgResult;
  reader: RowReader | undefined;
  failure: Error | undefined;
  /** false: only the command tag's count is wanted, the rows are not read */
  wantsRows: boolean;
  /** where a Describe was sent, so that its answer is remembered for the connection */
  describing: PgConnection | undefined;
  hasBeenParsed(connection: PgConnection): boolean;
  prepare(connection: PgConnection): void;
  handleRowDescription(msg: { fields: PgField[] }): void;
  handleDataRow(msg: { fields: (string | null)[] }): void;
  handleCommandComplete(msg: { text: string }): void;
  handleEmptyQuery(): void;
  handleError(error: Error): void;
  handleReadyForQuery(): void;
}

const statementPrototype: Omit<
  Statement,
  'text' | 'name' | 'values' | 'portal' | 'callback' | 'result' | 'reader' | 'failure' | 'wantsRows' | 'describing'
> = Object.assign(Object.create(pg.Query.prototype) as { hasBeenParsed(connection: PgConnection): boolean }, {
  // Query's own, less the Describe where none is needed (see Statement)
  prepare(this: Statement, connection: PgConnection) {
    if (!this.hasBeenParsed(connection)) {
      connection.parse({ text: this.text, name: this.name });
      if (this.name) connection.submittedNamedStatements[this.name] = this.text;
    }
    try {
      connection.bind({
        portal: this.portal,
        statement: this.name,
        values: this.values,
        binary: false,
        valueMapper: prepareValue,
      });
    } catch (error) {
      // a value that cannot be sent: nothing runs, and the statement is answered with the error.
      // Unlike Query, it stays prepared: closing it while the connection records it as parsed
      // would fail its next run ("prepared statement does not exist")
      connection.sync();
      this.handleError(error as Error);
      return;
    }
    if (this.wantsRows) {
      this.reader = this.name ? described.get(connection)?.get(this.name) : undefined;
      if (!this.reader) {
        this.describing = connection;
        connection.describe({ type: 'P', name: this.portal });
      }
    }
    connection.execute({ portal: this.portal });
    connection.sync();
  },
  handleRowDescription(this: Statement, msg: { fields: PgField[] }) {
    this.reader = readerFor(this.name ?? '', msg.fields);
    if (this.name && this.describing) describedOn(this.describing).set(this.name, this.reader);
  },
  handleDataRow(this: Statement, msg: { fields: (string | null)[] }) {
    const reader = this.reader;
    if (!reader || this.failure) return;
    // the message's own array (node-postgres makes one per row) becomes the parsed values
    const values: unknown[] = msg.fields;
    if (values.length !== reader.parsers.length) {
      this.failure = new Error(
        `statement ${this.name ?? ''} answered ${values.length} columns, described with ${reader.parsers.length}`,
      );
      return;
    }
    try {
      for (let i = 0; i < values.length; i++) {
        if (values[i] !== null) values[i] = reader.parsers[i](values[i] as string);
      }
    } catch (error) {
      this.failure = error as Error;
      return;
    }
    this.result.rows.push(reader.toRow(values));
  },
  handleCommandComplete(this: Statement, msg: { text: string }) {
    tagged(this.result, msg.text);
  },
  handleEmptyQuery() {},
  handleError(this: Statement, error: Error) {
    const callback = this.callback;
    this.callback = undefined;
    callback?.(error);
  },
  handleReadyForQuery(this: Statement) {
    if (this.failure) return this.handleError(this.failure);
    const callback = this.callback;
    this.callback = undefined;
    callback?.(null, this.result);
  },
});

/**
 * A statement to run: named (prepared once per connection) with values, or plain text (BEGIN).
 * A constructor, so that V8 gives its objects every field in place from the first one on.
 */
function PgStatement(this: Statement, text: string, name?: string, values?: unknown[], wantsRows = true): void {
  this.text = text;
  this.name = name;
  this.values = values;
  this.portal = '';
  this.callback = undefined;
  this.result = { rows: [], rowCount: null, command: undefined };
  this.reader = undefined;
  this.failure = undefined;
  this.wantsRows = wantsRows;
  this.describing = undefined;
}
PgStatement.prototype = statementPrototype;

function statement(text: string, name?: string, values?: unknown[], wantsRows = true): Statement {
  return new (PgStatement as unknown as new (...args: Parameters<typeof PgStatement>) => Statement)(
    text,
    name,
    values,
    wantsRows,
  );
}

const rowsOf = (result: PgResult) => result.rows;
const countOf = (result: PgResult) => result.rowCount ?? result.rows.length;

/** Runs a statement on a client (or on any of the pool's): its result, or the driver's error. */
export function submit(
  target: PgQueryable,
  text: string,
  name?: string,
  values?: unknown[],
  wantsRows = true,
): Promise<PgResult> {
  return new Promise((resolve, reject) => {
    target.query(statement(text, name, values, wantsRows), (error, result) =>
      error ? reject(error) : resolve(result!),
    );
  });
}

/** node-postgres's pool, which TypeORM's driver holds. */
export function pgPool(dataSource: DataSource): PgPool {
  return (dataSource.driver as unknown as { master: PgPool }).master;
}

/** A transaction: the pooled client it runs on, until it ends. */
class PgTx {
  open = true;
  constructor(readonly client: PgClient) {}
}

function clientOf(tx: Tx): PgClient {
  const pgTx = tx as unknown as PgTx;
  if (!pgTx.open) throw new Error('statement on a transaction that has ended');
  return pgTx.client;
}

/** Connections whose writes are held until the current tick ends. */
const held = new WeakSet<object>();

/**
 * Holds a connection's outgoing bytes until the promise reactions running now have all run, so
 * that statements a transaction issues together (BEGIN and its first statement, a `Promise.all`)
 * leave in one write instead of one each: every write to a TCP socket costs a system call and a
 * wake-up of PostgreSQL. node-postgres's pipeline mode has already sent them without waiting.
 */
export function holdWrites(client: PgClient): void {
  const stream = client.connection?.stream;
  if (!stream?.cork || !stream.uncork || held.has(stream)) return;
  held.add(stream);
  stream.cork();
  process.nextTick(() => {
    held.delete(stream);
    stream.uncork!();
  });
}

/** Connections whose round trips are counted. */
const counted = new WeakSet<object>();

/**
 * Counts a connection's round trips: a write that follows an answer (or is the first) starts
 * one; the writes sent before the next answer arrives belong to it, however many statements
 * they carry. That is what a request waits for PostgreSQL, one after the other, and what each
 * costs the service's CPU (a system call and the kernel's loopback or network work per write).
 */
function countRoundTrips(client: PgClient, onRoundTrip: () => void): void {
  const stream = client.connection?.stream;
  if (!stream?.write || !stream.prependListener || counted.has(stream)) return;
  counted.add(stream);
  let answered = true;
  // before node-postgres's own listener: the callbacks it runs on an answer may write at once (the
  // pool hands the connection to a waiting caller within them), and that write is a new round trip
  stream.prependListener('data', () => (answered = true));
  const write = stream.write;
  // node-postgres writes one message at a time, each a buffer alone (no encoding, no callback)
  stream.write = function (this: unknown, chunk: unknown, encoding?: unknown, callback?: unknown) {
    if (answered) {
      answered = false;
      onRoundTrip();
    }
    return write.call(this, chunk, encoding, callback);
  };
}

/**
 * BEGIN, COMMIT, ROLLBACK: each a statement span of the request's trace like every other (a
 * transaction here belongs to one request), issued at once so that pipelining is kept.
 */
function control(client: PgClient, statement: 'BEGIN' | 'COMMIT' | 'ROLLBACK'): Promise<PgResult> {
  return statementSpan(true, statement, () => submit(client, statement));
}

/** Statement names by text: a hash, so every connection gives one text the same name. */
const statementNames = new Map<string, string>();

function statementName(sql: string): string {
  let name = statementNames.get(sql);
  if (!name) statementNames.set(sql, (name = `pv_${createHash('sha256').update(sql).digest('hex').slice(0, 32)}`));
  return name;
}

/**
 * Statements run as named prepared statements, straight on node-postgres: PostgreSQL parses and
 * plans each once per connection instead of on every execution, and TypeORM's per-statement
 * bookkeeping (query runner, logger, subscriber broadcast) is skipped.
 */
export class PostgresAdapter implements SqlAdapter {
  readonly dialect = 'postgres' as const;
  private readonly pool: PgPool;

  /** Round trips made so far, by every connection of the pool (see countRoundTrips). */
  roundTrips = 0;

  constructor(dataSource: DataSource) {
    this.pool = pgPool(dataSource);
    // every checkout, also the pool's own for a statement outside a transaction
    this.pool.on('acquire', (client) => countRoundTrips(client, () => this.roundTrips++));
  }

  rows<T>(tx: Tx | undefined, sql: string, params: unknown[]): Promise<T[]> {
    return this.run(tx, sql, params, true, rowsOf) as Promise<T[]>;
  }

  execute(tx: Tx | undefined, sql: string, params: unknown[]): Promise<number> {
    return this.run(tx, sql, params, false, countOf);
  }

  onConnection(listener: () => void): void {
    this.pool.on('connect', listener);
  }

  statementFailed?: (error: unknown) => void;

  poolStats(): PoolStats {
    const { totalCount, idleCount, waitingCount } = this.pool;
    return { inUse: totalCount - idleCount, idle: idleCount, waiting: waitingCount };
  }

  /**
   * A transaction on one pooled connection. The pool's connections are in node-postgres's
   * pipeline mode (see data-source-options), so BEGIN is sent without waiting for its answer and
   * the unit's first statement follows it on the wire: one round trip for both. Statements a unit
   * issues together (`Promise.all`) share one too. A failed BEGIN fails every statement after it,
   * so no statement can run outside the transaction.
   */
  async transaction<T>(work: Work<T>): Promise<T> {
    const client = await this.pool.connect();
    // a connection that broke (or whose ROLLBACK failed) is closed, not handed to the next transaction
    let broken: Error | undefined;
    const onError = (error: Error) => void (broken ??= error);
    client.on('error', onError);
    const tx = new PgTx(client);
    try {
      holdWrites(client);
      const begun = control(client, 'BEGIN');
      try {
        const outcome = await work(tx as unknown as Tx);
        await begun;
        if (!(outcome instanceof Closing)) {
          await this.commit(client);
          return outcome;
        }
        // still in the promise reactions that issued the closing writes: their bytes are held
        // (holdWrites), and COMMIT joins them in the same write
        holdWrites(client);
        const [writes, committed] = await Promise.allSettled([outcome.writes, this.commit(client)]);
        if (writes.status === 'rejected') throw writes.reason;
        if (committed.status === 'rejected') throw committed.reason;
        return writes.value;
      } catch (error) {
        await begun.catch(() => undefined);
        await control(client, 'ROLLBACK').catch((failure: Error) => void (broken ??= failure));
        throw error;
      }
    } finally {
      tx.open = false;
      client.removeListener('error', onError);
      client.release(broken);
    }
  }

  /**
   * COMMIT, which PostgreSQL answers with ROLLBACK when a statement of the transaction failed
   * (a closing write sent with it): that is a failure too, never a commit.
   */
  private async commit(client: PgClient): Promise<void> {
    const result = await control(client, 'COMMIT').catch((error: unknown) => {
      this.statementFailed?.(error);
      throw error;
    });
    if (result.command !== undefined && result.command !== 'COMMIT') {
      throw new Error(`COMMIT answered ${result.command}: the transaction was rolled back`);
    }
  }

  /**
   * In a transaction: on its connection; else on any connection of the pool. One promise per
   * statement, settled from node-postgres's callback with what the caller wants of the result.
   */
  private run<R>(
    tx: Tx | undefined,
    sql: string,
    params: unknown[],
    wantsRows: boolean,
    pick: (result: PgResult) => R,
  ): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      let target: PgQueryable = this.pool;
      if (tx) {
        const client = clientOf(tx);
        holdWrites(client);
        target = client;
      }
      target.query(statement(sql, statementName(sql), params, wantsRows), (error, result) => {
        if (!error) return resolve(pick(result!));
        this.statementFailed?.(error);
        // as TypeORM reports it: the driver's error (and its code) in `driverError`
        reject(new QueryFailedError(sql, params, error));
      });
    });
  }
}
