import { Controller } from '@nestjs/common';
import { GrpcMethod, GrpcStreamMethod } from '@nestjs/microservices';
import { from, Observable } from 'rxjs';
import { Public } from '../auth/public.decorator';
import { DatabaseHealth } from './database-health';

const SERVICES = new Set(['', 'zitadel.user.v2.UserService', 'zitadel.org.v2.OrganizationService']);

/** grpc.health.v1.Health: SERVING while the database answers. */
@Controller()
export class HealthGrpcController {
  constructor(private readonly health: DatabaseHealth) {}

  @Public()
  @GrpcMethod('Health', 'Check')
  async check(request: { service?: string }) {
    return { status: await this.statusOf(request?.service ?? '') };
  }

  @Public()
  @GrpcStreamMethod('Health', 'Watch')
  watch(_requests: Observable<{ service?: string }>): Observable<{ status: string }> {
    return from(this.statusOf('').then((status) => ({ status })));
  }

  private async statusOf(service: string): Promise<string> {
    if (!SERVICES.has(service)) return 'SERVICE_UNKNOWN';
    return (await this.health.isUp()) ? 'SERVING' : 'NOT_SERVING';
  }
}
