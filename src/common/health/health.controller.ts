import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { AppError } from '../errors/app-error';
import { GrpcStatus } from '../errors/grpc-status';
import { Readiness } from '../shutdown/readiness';
import { DatabaseHealth } from './database-health';

@ApiTags('Health')
@Controller()
export class HealthController {
  constructor(
    private readonly health: DatabaseHealth,
    private readonly readiness: Readiness,
  ) {}

  /** Liveness: the process answers; no dependency is asked, so a database outage never restarts it. */
  @Public()
  @Get('livez')
  @ApiOperation({ summary: 'Liveness: 200 while the process answers (public)' })
  live(): { status: string } {
    return { status: 'SERVING' };
  }

  // /readyz is the Kubernetes name, /debug/healthz and /debug/ready ZITADEL's; all share one check.
  @Public()
  @Get(['healthz', 'readyz', 'debug/healthz', 'debug/ready'])
  @ApiOperation({
    summary: 'Readiness: 503 while the database is unreachable or the service is shutting down (public)',
  })
  async check(): Promise<{ status: string }> {
    if (this.readiness.stopping)
      throw new AppError(GrpcStatus.UNAVAILABLE, 'HEALTH-stop', 'The service is shutting down');
    if (await this.health.isUp()) return { status: 'SERVING' };
    throw new AppError(GrpcStatus.UNAVAILABLE, 'HEALTH-db', 'Database is not reachable');
  }
}
