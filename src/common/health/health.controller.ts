import { Controller, Get } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { AppError } from '../errors/app-error';
import { CheckStates, ReadinessChecks } from './readiness-checks';
import { HealthDocs } from './health.docs';

@ApiTags('Health')
@Controller()
export class HealthController {
  constructor(private readonly checks: ReadinessChecks) {}

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
  ready(): Promise<ReadyAnswer> {
    return this.check();
  }

  @Public()
  @Get(['debug/healthz', 'debug/ready'])
  @ApiExcludeEndpoint()
  zitadelReady(): Promise<ReadyAnswer> {
    return this.check();
  }

  @Public()
  @Get('healthz')
  @HealthDocs.check()
  async check(): Promise<ReadyAnswer> {
    const answer = await this.checks.answer();
    if (answer instanceof AppError) throw answer;
    return answer;
  }
}

type ReadyAnswer = { status: string; checks: CheckStates };
