import { Controller, Get } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiTags } from '@nestjs/swagger';
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

  /** Liveness: the process answers; no dependency is asked, so a database outage never restarts it. */
  @Public()
  @Get('livez')
  @HealthDocs.live()
  live(): { status: string } {
    return { status: 'SERVING' };
  }

  /** Readiness, under the Kubernetes name; ZITADEL's /debug/healthz and /debug/ready below are the same check. */
  @Public()
  @Get('readyz')
  @HealthDocs.ready()
  ready(): Promise<{ status: string }> {
    return this.check();
  }

  @Public()
  @Get(['debug/healthz', 'debug/ready'])
  @ApiExcludeEndpoint()
  zitadelReady(): Promise<{ status: string }> {
    return this.check();
  }

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
