import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiOperation, ApiProperty, ApiResponse } from '@nestjs/swagger';
import { ApiErrorResponse } from '../docs/api-rpc.decorator';
import { ErrorBody } from '../docs/error-body.dto';

export class HealthCheckResponseDto {
  @ApiProperty({ enum: ['SERVING'] })
  status: string;
}

/** Swagger of GET /healthz: the answer of grpc.health.v1.Health/Check, or 503 with the error body. */
const notReady = () =>
  ApiErrorResponse(
    {
      status: 503,
      description: 'not ready',
      examples: {
        database: { code: 14, id: 'HEALTH-db', text: 'Database is not reachable' },
        stopping: { code: 14, id: 'HEALTH-stop', text: 'The service is shutting down' },
      },
    },
    null,
  );

export const HealthDocs = {
  live: () =>
    applyDecorators(
      ApiOperation({
        operationId: 'Health_Live',
        summary: 'Liveness: 200 while the process answers; asks no dependency (public)',
      }),
      ApiResponse({ status: 200, description: 'alive', type: HealthCheckResponseDto }),
    ),
  ready: () =>
    applyDecorators(
      ApiExtraModels(ErrorBody),
      ApiOperation({
        operationId: 'Health_Ready',
        summary:
          'Readiness (also at /healthz, /debug/healthz, /debug/ready): 503 while the database is unreachable or the service is shutting down (public)',
      }),
      ApiResponse({ status: 200, description: 'ready', type: HealthCheckResponseDto }),
      notReady(),
    ),
  check: () =>
    applyDecorators(
      ApiExtraModels(ErrorBody),
      ApiOperation({
        operationId: 'Health_Check',
        summary: 'Readiness: 503 while the database is unreachable or the service is shutting down (public)',
      }),
      ApiResponse({ status: 200, description: 'serving', type: HealthCheckResponseDto }),
      notReady(),
    ),
};
