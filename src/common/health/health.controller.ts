import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { DataSource } from 'typeorm';
import { Public } from '../auth/public.decorator';
import { AppError } from '../errors/app-error';
import { GrpcStatus } from '../errors/grpc-status';

@ApiTags('Health')
@Controller()
export class HealthController {
  constructor(private readonly dataSource: DataSource) {}

  @Public()
  @Get('healthz')
  @ApiOperation({ summary: 'Liveness and database reachability (public)' })
  async health(): Promise<{ status: string }> {
    try {
      await this.dataSource.query('SELECT 1');
      return { status: 'SERVING' };
    } catch {
      throw new AppError(GrpcStatus.UNAVAILABLE, 'HEALTH-db', 'Database is not reachable');
    }
  }
}
