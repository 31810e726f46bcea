import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiOperation, ApiProperty, ApiResponse } from '@nestjs/swagger';
import { ApiErrorResponse } from '../docs/api-rpc.decorator';
import { ErrorBody } from '../docs/error-body.dto';
import { ERROR_DOMAIN, ERROR_INFO_TYPE } from '../errors/app-error';

export class HealthCheckResponseDto {
  @ApiProperty({ enum: ['SERVING'] })
  status: string;
}

export class ReadyResponseDto extends HealthCheckResponseDto {
  @ApiProperty({
    description: 'each readiness check: database, redis (when REDIS_URL is set), outbox (the SMS worker)',
    type: 'object',
    additionalProperties: { type: 'string', enum: ['up', 'down'] },
    example: { database: 'up', redis: 'up', outbox: 'up' },
  })
  checks: Record<string, string>;
}

const NOT_READY_INFO = (checks: Record<string, string>) => [
  { '@type': ERROR_INFO_TYPE, reason: 'NOT_READY', domain: ERROR_DOMAIN, metadata: checks },
];

/**
 * Swagger of the readiness probes: the checks, or 503 with the error body naming the failed
 * checks (the first one's ID) and every check's state in the ErrorInfo's metadata.
 */
const notReady = () =>
  ApiErrorResponse(
    {
      status: 503,
      description: 'not ready: a check is down (named in the message, each state in the ErrorInfo) or shutting down',
      examples: {
        database: {
          code: 14,
          id: 'HEALTH-db',
          text: 'Not ready: database',
          extra: NOT_READY_INFO({ database: 'down', outbox: 'up' }),
        },
        redis: {
          code: 14,
          id: 'HEALTH-redis',
          text: 'Not ready: redis',
          extra: NOT_READY_INFO({ database: 'up', redis: 'down', outbox: 'up' }),
        },
        outbox: {
          code: 14,
          id: 'HEALTH-outbox',
          text: 'Not ready: outbox',
          extra: NOT_READY_INFO({ database: 'up', outbox: 'down' }),
        },
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
          'Readiness (also at /healthz, /debug/healthz, /debug/ready, and /readyz on the management port): 503 while the database, Redis (when configured) or the SMS outbox worker is down, or the service is shutting down (public)',
      }),
      ApiResponse({ status: 200, description: 'ready', type: ReadyResponseDto }),
      notReady(),
    ),
  check: () =>
    applyDecorators(
      ApiExtraModels(ErrorBody),
      ApiOperation({
        operationId: 'Health_Check',
        summary:
          'Readiness: 503 while the database, Redis (when configured) or the SMS outbox worker is down, or the service is shutting down (public)',
      }),
      ApiResponse({ status: 200, description: 'serving', type: ReadyResponseDto }),
      notReady(),
    ),
};
