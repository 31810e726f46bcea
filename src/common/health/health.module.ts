import { Global, Module } from '@nestjs/common';
import { Readiness } from '../shutdown/readiness';
import { DatabaseHealth } from './database-health';
import { HealthController } from './health.controller';
import { HealthGrpcController } from './health.grpc.controller';
import { ReadinessChecks } from './readiness-checks';

/** Probes on every port, and the readiness check features register theirs with. */
@Global()
@Module({
  controllers: [HealthController, HealthGrpcController],
  providers: [DatabaseHealth, Readiness, ReadinessChecks],
  exports: [Readiness, ReadinessChecks],
})
export class HealthModule {}
