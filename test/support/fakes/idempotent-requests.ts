import type { Clock } from '../../../src/common/clock';
import type { AppLogger } from '../../../src/common/logging/app-logger';
import { Metrics } from '../../../src/common/metrics/metrics';
import type { CodeMac } from '../../../src/phone/code-mac';
import { AnswerCipher } from '../../../src/phone/idempotency/answer-cipher';
import { IdempotentRequests } from '../../../src/phone/idempotency/idempotent-requests';
import type {
  ClaimedBefore,
  IdempotentRequestsRepository,
  NewClaim,
} from '../../../src/phone/idempotency/idempotent-requests.repository';
import { CapturingLogger } from './sms-fraud';

interface Row extends ClaimedBefore {
  expiresAt: number;
}

/** IdempotentRequestsRepository in memory: the same claims, answers, releases and expiry. */
export class FakeIdempotentRows {
  readonly rows = new Map<string, Row>();
  /** called before each claim returns (a test's hook to act "meanwhile") */
  onClaim?: (id: string) => void;

  async claim({ id, fingerprint, now, expiresAt }: NewClaim): Promise<ClaimedBefore | undefined> {
    await Promise.resolve();
    const row = this.rows.get(id);
    if (row && row.expiresAt <= now.getTime()) this.rows.delete(id);
    const current = this.rows.get(id);
    this.onClaim?.(id);
    if (current) return { fingerprint: current.fingerprint, answer: current.answer };
    this.rows.set(id, { fingerprint, answer: null, expiresAt: expiresAt.getTime() });
    return undefined;
  }

  async find(id: string, now: Date): Promise<ClaimedBefore | undefined> {
    await Promise.resolve();
    const row = this.rows.get(id);
    return row && row.expiresAt > now.getTime() ? { fingerprint: row.fingerprint, answer: row.answer } : undefined;
  }

  async answer(id: string, answer: string): Promise<void> {
    await Promise.resolve();
    const row = this.rows.get(id);
    if (row) row.answer = answer;
  }

  async release(id: string, answered = false): Promise<void> {
    await Promise.resolve();
    if (answered || this.rows.get(id)?.answer === null) this.rows.delete(id);
  }
}

/** IdempotentRequests over FakeIdempotentRows, with its metrics on a registry of their own. */
export function idempotentRequests(mac: CodeMac, clock: Clock, rows = new FakeIdempotentRows()) {
  const logger = new CapturingLogger();
  const service = new IdempotentRequests(
    rows as unknown as IdempotentRequestsRepository,
    new AnswerCipher(mac),
    clock,
    logger as unknown as AppLogger,
    new Metrics(),
  );
  return { service, rows, logger };
}
