import type { DelegatedVerifier } from '../../../src/phone/verify/delegated-verifier';
import { channelWorkflow } from './channels';
import { type Role } from '../../../src/common/auth/caller';
import { CallerRef } from '../../../src/common/auth/caller-ref';
import type { EventsRepository } from '../../../src/common/events/events.repository';
import type { IdGenerator } from '../../../src/common/ids/id-generator';
import type { Database } from '../../../src/database/sql';
import { OutboxCipher } from '../../../src/phone/outbox/outbox-cipher';
import { SmsCodeQueue } from '../../../src/phone/outbox/sms-code-queue';
import type { SmsOutboxRepository } from '../../../src/phone/outbox/sms-outbox.repository';
import type { SmsOutboxWorker } from '../../../src/phone/outbox/sms-outbox.worker';
import { PhoneChanges } from '../../../src/phone/phone-changes';
import { PhoneCodeChecker } from '../../../src/phone/phone-code-checker';
import { PhoneCodeFactory } from '../../../src/phone/phone-code-factory';
import { PhoneCodeIssuer } from '../../../src/phone/phone-code-issuer';
import type { PhoneCodesRepository } from '../../../src/phone/phone-codes.repository';
import { PhoneLimits } from '../../../src/phone/phone-limits';
import { PhoneNumberParser } from '../../../src/phone/phone-number';
import { PhoneUseCaseContext } from '../../../src/phone/phone-use-case-context';
import { PhoneVerificationService } from '../../../src/phone/phone-verification.service';
import { PhoneVerifier } from '../../../src/phone/phone-verifier';
import { TestNumbers } from '../../../src/phone/test-numbers';
import { PreSendChecks } from '../../../src/phone/presend/pre-send-checks';
import { PreSendMetrics } from '../../../src/phone/presend/pre-send.metrics';
import { PreSendStage } from '../../../src/phone/presend/pre-send-stage';
import { DependencyOutages } from '../../../src/common/errors/dependency-outages';
import type { AppLogger } from '../../../src/common/logging/app-logger';
import { Metrics } from '../../../src/common/metrics/metrics';
import type { UsersRepository } from '../../../src/users/users.repository';
import { InMemoryBackoffStore } from './backoff-store';
import { ManualClock } from './clock';
import { codeMac, unitConfig } from './config';
import { FakeEvents } from './events';
import { SequentialIds } from './ids';
import { InMemoryLimitStore } from './limit-store';
import { limitMetrics, phoneMetrics } from './metrics';
import { FakePhoneCodes } from './phone-codes';
import { CapturingLogger, fraudGuard, InMemorySmsFraudStore } from './sms-fraud';
import { spendGuard } from './sms-spend';
import { FakeOutbox, FakeOutboxWorker } from './sms-outbox';
import { FakeTransactions } from './transactions';
import { idempotentRequests } from './idempotent-requests';
import { FakeUsers } from './users';

/** The phone use-cases wired to in-memory fakes, with the fakes to arrange and inspect them by. */
export function phoneUseCases(env: Record<string, string> = {}, delegated?: DelegatedVerifier) {
  const config = unitConfig(env);
  const fraud = new InMemorySmsFraudStore();
  const tx = new FakeTransactions();
  const users = new FakeUsers();
  const codes = new FakePhoneCodes(users);
  const events = new FakeEvents();
  const store = new InMemoryLimitStore();
  const backoff = new InMemoryBackoffStore();
  const outbox = new FakeOutbox();
  const worker = new FakeOutboxWorker();
  const mac = codeMac(config);
  const clock = new ManualClock();
  const ids = new SequentialIds() as unknown as IdGenerator;
  const limits = new PhoneLimits(config.limits, store, limitMetrics(), backoff);
  const repo = codes as unknown as PhoneCodesRepository;
  const usersRepo = users as unknown as UsersRepository;
  const eventsRepo = events as unknown as EventsRepository;
  const metrics = phoneMetrics(config);
  const context = new PhoneUseCaseContext(tx as unknown as Database, clock, repo);
  const issuer = new PhoneCodeIssuer(
    new PhoneCodeFactory(config.codes, mac, ids),
    new SmsCodeQueue(
      config.sms,
      ids,
      outbox as unknown as SmsOutboxRepository,
      new OutboxCipher(config.sms.outbox, mac),
      channelWorkflow(config),
    ),
    repo,
    limits,
    new TestNumbers(config.codes, config.app),
    fraudGuard(config, fraud, mac),
    spendGuard(config),
    config.verifier,
  );
  const checker = new PhoneCodeChecker(config.codes, repo, mac, limits, fraudGuard(config, fraud, mac));
  const parser = new PhoneNumberParser(config.codes);
  const logger = new CapturingLogger() as unknown as AppLogger;
  const checks = new PreSendChecks(
    config.presend,
    config.app,
    fraudGuard(config, fraud, mac),
    new PreSendMetrics(new Metrics()),
    clock,
    new DependencyOutages(logger),
    logger,
  );
  const presend = new PreSendStage(checks, usersRepo, parser, new TestNumbers(config.codes, config.app));
  const changes = new PhoneChanges(
    context,
    usersRepo,
    eventsRepo,
    parser,
    issuer,
    worker as unknown as SmsOutboxWorker,
    metrics,
    presend,
  );
  const verifier = new PhoneVerifier(context, usersRepo, eventsRepo, checker, limits, metrics, logger, delegated);
  const idempotent = idempotentRequests(mac, clock);
  const service = new PhoneVerificationService(
    changes,
    verifier,
    context,
    usersRepo,
    repo,
    eventsRepo,
    idempotent.service,
  );
  return { fraud, tx, users, codes, events, store, backoff, outbox, worker, mac, clock, verifier, service, idempotent };
}

/**
 * The callers of a phone use-case on `user()`: the user itself (with `grants`), a user holding
 * `role` in `scope` (the user's organization, `org`, unless given), a manager of `org`, and a token
 * that names no active caller (unknown, revoked, its user deactivated).
 */
export function phoneCallers(user: () => { id: string; orgId: string }, org: string) {
  const granted = (role: Role, scope = org) =>
    CallerRef.of({ userId: '900000000000000001', orgId: scope, grants: [{ scope, role }] });
  return {
    self: (grants: Array<{ scope: string; role: Role }> = []) =>
      CallerRef.of({ userId: user().id, orgId: user().orgId, grants }),
    granted,
    manager: () => granted('ORG_USER_MANAGER'),
    unknownToken: () => new CallerRef('revoked-token', { resolve: async () => undefined }),
  };
}
