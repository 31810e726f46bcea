import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/public.decorator';
import { AppError } from '../errors/app-error';
import { GrpcStatus } from '../errors/grpc-status';
import { DatabaseHealth } from './database-health';

@ApiTags('Health')
@Controller()
export class HealthController {
  constructor(private readonly health: DatabaseHealth) {}

  @Public()
  @Get('healthz')
  @ApiOperation({ summary: 'Liveness and database reachability (public)' })
  async check(): Promise<{ status: string }> {
    if (await this.health.isUp()) return { status: 'SERVING' };
    throw new AppError(GrpcStatus.UNAVAILABLE, 'HEALTH-db', 'Database is not reachable');
  }
}
