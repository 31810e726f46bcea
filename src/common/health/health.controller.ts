import { Controller, Get } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { AppError } from '../errors/app-error';
import { GrpcStatus } from '../errors/grpc-status';
import { Readiness } from '../shutdown/readiness';
import { DatabaseHealth } from './database-health';
import { HealthDocs } from './health.docs';

@ApiTags('Health')
@Controller()
export class HealthController {
  constructor(
    private readonly health: DatabaseHealth,
    private readonly readiness: Readiness,
  ) {}

  @Public()
  @Get('healthz')
  @HealthDocs.check()
  async check(): Promise<{ status: string }> {
    if (this.readiness.stopping)
      throw new AppError(GrpcStatus.UNAVAILABLE, 'HEALTH-stop', 'The service is shutting down');
    if (await this.health.isUp()) return { status: 'SERVING' };
    throw new AppError(GrpcStatus.UNAVAILABLE, 'HEALTH-db', 'Database is not reachable');
  }
}
