import { Injectable } from '@nestjs/common';
import { Counter } from 'prom-client';
import type { CallerRef } from '../../common/auth/caller-ref';
import { Clock } from '../../common/clock';
import { AppLogger } from '../../common/logging/app-logger';
import { Metrics } from '../../common/metrics/metrics';
import type { RequestOrigin } from '../../common/throttle/client-address';
import { AnswerCipher } from './answer-cipher';
import { IdempotencyErrors } from './idempotency.errors';
import {
  answerOf,
  answerText,
  checkedKey,
  fingerprintOf,
  IDEMPOTENCY_TTL_MS,
  keptError,
  scopeOf,
  StoredAnswer,
} from './idempotency-rules';
import { ClaimedBefore, IdempotentRequestsRepository } from './idempotent-requests.repository';

export type IdempotentMethod = 'SetPhone' | 'ResendPhoneCode' | 'AddHumanUser';

/** One call of a use-case that takes an Idempotency-Key. */
export interface IdempotentCall {
  ref: CallerRef;
  method: IdempotentMethod;
  origin?: RequestOrigin;
  /** what the caller asked for, as the use-case reads it: its fingerprint tells a repeat from a new request */
  request: unknown;
}

type Outcome = 'first' | 'replayed' | 'conflict' | 'in_progress';

/**
 * Idempotency-Key for the use-cases that send (ADR 0026): the first request with a key claims it
 * and stores its answer; a repeat by the same caller with the same request gets that answer and
 * runs nothing; another request under the key is refused. Repeats on this instance wait for the
 * first in turn; a claim held by another instance is polled for a bounded time.
 */
@Injectable()
export class IdempotentRequests {
  /** how long a repeat waits for a claim held elsewhere, and how often it looks */
  waitMs = 5_000;
  pollMs = 50;
  /** the last request of each key on this instance: the next one starts after it */
  private readonly queue = new Map<string, Promise<unknown>>();
  private readonly outcomes: Counter<'method' | 'outcome'>;

  constructor(
    private readonly rows: IdempotentRequestsRepository,
    private readonly cipher: AnswerCipher,
    private readonly clock: Clock,
    private readonly logger: AppLogger,
    metrics: Metrics,
  ) {
    logger.setContext(IdempotentRequests.name);
    this.outcomes = new Counter({
      name: 'pv_idempotent_requests_total',
      help: 'Requests that carried an Idempotency-Key, by method and outcome (first, replayed, conflict, in_progress)',
      labelNames: ['method', 'outcome'],
      registers: [metrics.registry],
    });
  }

  /** `work` once per key: without a key, simply `work`. */
  async run<T>(call: IdempotentCall, work: () => Promise<T>): Promise<T> {
    const raw = call.origin?.idempotencyKey;
    if (raw === undefined) return work();
    const key = checkedKey(raw);
    const caller = await call.ref.resolve();
    const id = scopeOf(caller.userId, call.method, key);
    const previous = this.queue.get(id);
    const mine = (previous ?? Promise.resolve()).catch(() => undefined).then(() => this.once(id, call, work));
    this.queue.set(id, mine);
    try {
      return await mine;
    } finally {
      if (this.queue.get(id) === mine) this.queue.delete(id);
    }
  }

  private async once<T>(id: string, call: IdempotentCall, work: () => Promise<T>): Promise<T> {
    const fingerprint = fingerprintOf(call.request);
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const now = this.clock.now();
      const before = await this.rows.claim({
        id,
        fingerprint,
        now,
        expiresAt: new Date(now.getTime() + IDEMPOTENCY_TTL_MS),
      });
      if (!before) return this.first(id, call, work);
      const settled = await this.settledOrWait(id, call, fingerprint, before, deadline);
      if (settled) return this.replay<T>(call, settled);
      // released meanwhile (the first request failed in a way a retry may mend): claim it again
    }
  }

  /** The stored answer, or undefined when the key was released; polls while the claim is unanswered. */
  private async settledOrWait(
    id: string,
    call: IdempotentCall,
    fingerprint: string,
    found: ClaimedBefore,
    deadline: number,
  ): Promise<StoredAnswer<unknown> | undefined> {
    let row: ClaimedBefore | undefined = found;
    for (;;) {
      if (!row) return undefined;
      if (row.fingerprint !== fingerprint) {
        this.count(call, 'conflict');
        throw IdempotencyErrors.reusedWithOtherRequest(call.method);
      }
      if (row.answer !== null) {
        const answer = this.opened(id, row.answer);
        if (answer) return answer;
        // sealed under a key no longer configured: forgotten, as if expired
        await this.rows.release(id, true);
        return undefined;
      }
      if (Date.now() >= deadline) {
        this.count(call, 'in_progress');
        throw IdempotencyErrors.inProgress(call.method, this.waitMs);
      }
      await new Promise((resolve) => setTimeout(resolve, this.pollMs));
      row = await this.rows.find(id, this.clock.now());
    }
  }

  private async first<T>(id: string, call: IdempotentCall, work: () => Promise<T>): Promise<T> {
    this.count(call, 'first');
    let answer: StoredAnswer<T>;
    try {
      answer = { ok: true, value: await work() };
    } catch (error) {
      if (keptError(error)) await this.store(id, { ok: false, error });
      else await this.rows.release(id).catch((e: unknown) => this.lost(id, e));
      throw error;
    }
    await this.store(id, answer);
    return answer.value;
  }

  /** A failure here loses the answer, not the use-case's work: the key stays claimed (answered 409) until it expires. */
  private async store<T>(id: string, answer: StoredAnswer<T>): Promise<void> {
    try {
      await this.rows.answer(id, this.cipher.seal(id, answerText(answer)));
    } catch (error) {
      this.lost(id, error);
    }
  }

  private replay<T>(call: IdempotentCall, answer: StoredAnswer<unknown>): T {
    this.count(call, 'replayed');
    call.origin?.markReplayed?.();
    if (!answer.ok) throw answer.error;
    return answer.value as T;
  }

  private opened(id: string, sealed: string): StoredAnswer<unknown> | undefined {
    try {
      return answerOf(this.cipher.open(id, sealed));
    } catch (error) {
      this.logger.warn(
        { err: error },
        'A stored idempotent answer cannot be opened (its key was removed): the key is new again',
      );
      return undefined;
    }
  }

  private lost(id: string, error: unknown): void {
    this.logger.warn({ err: error, key: id.slice(0, 12) }, 'The answer of an idempotent request was not stored');
  }

  private count(call: IdempotentCall, outcome: Outcome): void {
    this.outcomes.inc({ method: call.method, outcome });
  }
}
