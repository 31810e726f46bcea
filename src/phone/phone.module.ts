import { Module } from '@nestjs/common';
import type { RedisClient } from '../common/limits/redis-connection';
import { DependencyOutages } from '../common/errors/dependency-outages';
import { REDIS } from '../common/limits/limits.module';
import { DatabaseSmsFraudStore } from './fraud/database-fraud-store';
import { RedisSmsFraudStore } from './fraud/redis-fraud-store';
import { SmsFraudCountsRepository } from './fraud/sms-fraud-counts.repository';
import { SmsFraudGuard } from './fraud/sms-fraud-guard';
import { SmsFraudStore } from './fraud/sms-fraud-store';
import { SmsFraudMetrics } from './fraud/sms-fraud.metrics';
import { PhoneGrpcController } from './phone.grpc.controller';
import { Clock } from '../common/clock';
import { FraudSettings } from './fraud/fraud.settings';
import { SmsSpendCountsRepository } from './spend/sms-spend-counts.repository';
import { SmsSpendGuard } from './spend/sms-spend-guard';
import { SmsSpendMetrics } from './spend/sms-spend.metrics';
import { SmsSettings } from './sms/sms.settings';
import { UsersDataModule } from '../users/users-data.module';
import { CodeMac } from './code-mac';
import { PhoneCodesRepository } from './phone-codes.repository';
import { PhoneNumberParser } from './phone-number';
import { OutboxCipher } from './outbox/outbox-cipher';
import { SmsDeliveryService } from './outbox/sms-delivery.service';
import { SmsDeliveryOutcomes } from './outbox/sms-delivery-outcomes';
import { SmsDeliveryRows } from './outbox/sms-delivery-rows';
import { SmsDispatcher } from './outbox/sms-dispatcher';
import { SmsOutboxMetrics } from './outbox/sms-outbox.metrics';
import { SmsOutboxRepository } from './outbox/sms-outbox.repository';
import { SmsOutboxWorker } from './outbox/sms-outbox.worker';
import { OutboxReadiness } from './outbox/outbox-readiness';
import { PhoneCodeChecker } from './phone-code-checker';
import { PhoneCodeIssuer } from './phone-code-issuer';
import { PhoneCodeFactory } from './phone-code-factory';
import { PhoneChanges } from './phone-changes';
import { PreSendChecks } from './presend/pre-send-checks';
import { PreSendMetrics } from './presend/pre-send.metrics';
import { PreSendStage } from './presend/pre-send-stage';
import { PhoneUseCaseContext } from './phone-use-case-context';
import { PhoneVerifier } from './phone-verifier';
import { SmsCodeQueue } from './outbox/sms-code-queue';
import { PhoneLimits } from './phone-limits';
import { PhoneVerificationService } from './phone-verification.service';
import { PhoneController } from './phone.controller';
import { PhoneMetrics } from './phone.metrics';
import { createSmsSender } from './sms/failover-sms-sender';
import { SmsSender } from './sms/sms-sender';
import { ChannelSenders } from './sms/channels';
import { createChannelSenders } from './sms/configured-channel-senders';
import { CodeSettings } from './phone-codes.settings';
import { MeasuredSmsSender } from './sms/measured-sms-sender';
import { createDelegatedVerifier } from './verify/create-delegated-verifier';
import { DELEGATED_VERIFIER, DelegatedVerifier, VerificationStartSender } from './verify/delegated-verifier';
import { VerifierSettings } from './verify/verifier.settings';
import { VerifierMetrics } from './verify/verifier.metrics';
import { RECEIPT_PARSERS } from './sms/delivery-receipt';
import { createReceiptParsers } from './sms/receipt-parsers';
import { SmsReceiptApplier } from './outbox/sms-receipt-applier';
import { SmsReceiptFailover } from './outbox/sms-receipt-failover';
import { SmsRetryPolicy } from './outbox/sms-retry-policy';
import { SmsReceiptsController } from './outbox/sms-receipts.controller';
import { SmsReceiptsService } from './outbox/sms-receipts.service';
import { SmsReceiptReader } from './outbox/sms-receipt-reader';
import { SmsReceiptSweeper } from './outbox/sms-receipt-sweeper';
import { SmsText } from './sms/sms-text';
import { TestNumbers } from './test-numbers';
import { RetentionPruner } from './retention/retention-pruner';
import { RetentionDeletes } from './retention/retention-deletes';
import { EventPhoneRedactor } from './retention/event-phone-redactor';
import { RetentionSweeper } from './retention/retention-sweeper';
import { AnswerCipher } from './idempotency/answer-cipher';
import { IdempotentRequests } from './idempotency/idempotent-requests';
import { IdempotentRequestsRepository } from './idempotency/idempotent-requests.repository';
import { WebhooksModule } from './webhooks/webhooks.module';
import { ChannelWorkflow } from './channels/channel-workflow';
import { ChannelSteps } from './outbox/channel-steps';
import { ChannelStepTimeouts } from './outbox/channel-step-timeouts';

@Module({
  imports: [UsersDataModule, WebhooksModule],
  controllers: [PhoneController, PhoneGrpcController, SmsReceiptsController],
  providers: [
    PhoneVerificationService,
    PhoneUseCaseContext,
    PhoneChanges,
    PreSendStage,
    PreSendChecks,
    PreSendMetrics,
    PhoneVerifier,
    PhoneCodeIssuer,
    PhoneCodeFactory,
    SmsCodeQueue,
    PhoneCodeChecker,
    PhoneLimits,
    PhoneCodesRepository,
    OutboxCipher,
    SmsOutboxRepository,
    SmsDeliveryService,
    SmsDeliveryRows,
    SmsDispatcher,
    SmsDeliveryOutcomes,
    SmsOutboxWorker,
    OutboxReadiness,
    SmsText,
    TestNumbers,
    PhoneNumberParser,
    CodeMac,
    PhoneMetrics,
    SmsOutboxMetrics,
    SmsReceiptApplier,
    SmsReceiptFailover,
    SmsRetryPolicy,
    SmsReceiptsService,
    SmsReceiptReader,
    SmsReceiptSweeper,
    { provide: RECEIPT_PARSERS, inject: [SmsSettings, Clock], useFactory: createReceiptParsers },
    SmsFraudGuard,
    SmsFraudMetrics,
    VerifierMetrics,
    SmsFraudCountsRepository,
    SmsSpendGuard,
    SmsSpendMetrics,
    SmsSpendCountsRepository,
    RetentionPruner,
    RetentionDeletes,
    EventPhoneRedactor,
    RetentionSweeper,
    IdempotentRequests,
    IdempotentRequestsRepository,
    AnswerCipher,
    ChannelWorkflow,
    ChannelSteps,
    ChannelStepTimeouts,
    {
      // where the other limits live: Redis when REDIS_URL is set, else the database
      provide: SmsFraudStore,
      inject: [REDIS, SmsFraudCountsRepository, FraudSettings, DependencyOutages],
      useFactory: (
        redis: RedisClient | null,
        counts: SmsFraudCountsRepository,
        config: FraudSettings,
        outages: DependencyOutages,
      ) =>
        redis
          ? new RedisSmsFraudStore(redis, config.rememberVerifiedMs, outages, config.counterRetentionMs)
          : new DatabaseSmsFraudStore(counts, config.rememberVerifiedMs, config.counterRetentionMs),
    },
    {
      provide: DELEGATED_VERIFIER,
      inject: [VerifierSettings, SmsSettings, VerifierMetrics],
      useFactory: (verifier: VerifierSettings, sms: SmsSettings, metrics: VerifierMetrics) => {
        const delegated = createDelegatedVerifier(verifier, sms.twilio);
        return delegated && metrics.measured(delegated);
      },
    },
    {
      // with a delegated verifier, "sending" a code starts the provider's verification (ADR 0030)
      provide: SmsSender,
      inject: [SmsSettings, Clock, PhoneMetrics, DELEGATED_VERIFIER],
      useFactory: (sms: SmsSettings, clock: Clock, metrics: PhoneMetrics, delegated: DelegatedVerifier | null) =>
        delegated
          ? new MeasuredSmsSender(new VerificationStartSender(delegated), metrics)
          : createSmsSender(sms, clock, metrics),
    },
    {
      provide: ChannelSenders,
      inject: [SmsSender, SmsSettings, CodeSettings, Clock, PhoneMetrics, SmsText],
      useFactory: createChannelSenders,
    },
  ],
  exports: [PhoneVerificationService],
})
export class PhoneModule {}
