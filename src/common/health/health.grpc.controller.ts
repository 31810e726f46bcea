import { Controller } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import { from, Observable } from 'rxjs';
import { Public } from '../auth/public.decorator';
import { AppError } from '../errors/app-error';
import { GrpcStatus } from '../errors/grpc-status';
import { DatabaseHealth } from './database-health';

const SERVICES = new Set(['', 'zitadel.user.v2.UserService', 'zitadel.org.v2.OrganizationService']);

/** grpc.health.v1.Health: SERVING while the database answers. */
@Controller()
export class HealthGrpcController {
  constructor(private readonly health: DatabaseHealth) {}

  @Public()
  @GrpcMethod('Health', 'Check')
  async check(request: { service?: string }) {
    const service = request?.service ?? '';
    const status = await this.statusOf(service);
    // the health protocol: Check answers an unknown service with NOT_FOUND (only Watch reports SERVICE_UNKNOWN)
    if (status === 'SERVICE_UNKNOWN')
      throw new AppError(GrpcStatus.NOT_FOUND, 'HEALTH-3nkwn', `unknown service "${service}"`);
    return { status };
  }

  /** Server streaming, so @GrpcMethod (a stream method would never be matched); one answer, then the end. */
  @Public()
  @GrpcMethod('Health', 'Watch')
  watch(request: { service?: string }): Observable<{ status: string }> {
    return from(this.statusOf(request?.service ?? '').then((status) => ({ status })));
  }

  private async statusOf(service: string): Promise<string> {
    if (!SERVICES.has(service)) return 'SERVICE_UNKNOWN';
    return (await this.health.isUp()) ? 'SERVING' : 'NOT_SERVING';
  }
}
