import { Controller, OnModuleDestroy } from '@nestjs/common';
import { GrpcMethod } from '@nestjs/microservices';
import {
  concat,
  distinctUntilChanged,
  exhaustMap,
  map,
  merge,
  NEVER,
  Observable,
  of,
  ReplaySubject,
  share,
  Subject,
  takeUntil,
  timer,
} from 'rxjs';
import { Public } from '../auth/public.decorator';
import { AppError } from '../errors/app-error';
import { boundText } from '../errors/bounded-text';
import { GrpcStatus } from '../errors/grpc-status';
import { assertDecoded } from '../grpc/undecodable';
import { Readiness } from '../shutdown/readiness';
import { ReadinessChecks } from './readiness-checks';

const SERVICES = new Set(['', 'zitadel.user.v2.UserService', 'zitadel.org.v2.OrganizationService']);

/** How often the readiness checks run while at least one Watch is open (once for all of them). */
export const WATCH_POLL_MS = 2_000;

type Status = 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN';

const statusOf = (ready: boolean): Status => (ready ? 'SERVING' : 'NOT_SERVING');

/**
 * grpc.health.v1.Health: SERVING while the readiness checks pass (the same as /readyz) and no
 * shutdown has begun. Watch streams the status: the current one at once, then each change, and
 * NOT_SERVING when the shutdown starts.
 */
@Controller()
export class HealthGrpcController implements OnModuleDestroy {
  private readonly closing = new Subject<void>();
  private closed = false;
  private readonly status$: Observable<Status>;

  constructor(
    private readonly health: ReadinessChecks,
    private readonly readiness: Readiness,
  ) {
    this.status$ = timer(0, WATCH_POLL_MS).pipe(
      exhaustMap(() => this.health.isReady()),
      distinctUntilChanged(),
      map(statusOf),
      // one poll shared by every open Watch, stopped when the last one ends
      share({ connector: () => new ReplaySubject(1), resetOnRefCountZero: true }),
    );
    // the gRPC server's graceful stop waits for open calls: every Watch ends when the shutdown starts
    readiness.stopping$.subscribe(() => this.onModuleDestroy());
  }

  @Public()
  @GrpcMethod('Health', 'Check')
  async check(request: { service?: string }) {
    assertDecoded(request);
    const service = request?.service ?? '';
    // the health protocol: Check answers an unknown service with NOT_FOUND (only Watch reports SERVICE_UNKNOWN)
    if (!SERVICES.has(service)) {
      // the name is the caller's: only its start is echoed
      throw new AppError(GrpcStatus.NOT_FOUND, 'HEALTH-3nkwn', `unknown service "${boundText(service, 200)}"`);
    }
    if (this.readiness.stopping) return { status: 'NOT_SERVING' as const };
    return { status: statusOf(await this.health.isReady()) };
  }

  /** Server streaming (under @GrpcMethod, since a stream method would never be matched); open until the client ends it. */
  @Public()
  @GrpcMethod('Health', 'Watch')
  watch(request: { service?: string }): Observable<{ status: Status }> {
    assertDecoded(request);
    if (this.closed) return of({ status: 'NOT_SERVING' });
    // an unknown service is reported once; the stream stays open, as the protocol asks
    const statuses = SERVICES.has(request?.service ?? '')
      ? this.status$
      : concat(of('SERVICE_UNKNOWN' as const), NEVER);
    const last = this.closing.pipe(map((): Status => 'NOT_SERVING'));
    return merge(statuses.pipe(takeUntil(this.closing)), last).pipe(map((status) => ({ status })));
  }

  /** Also runs before the gRPC server closes (app.close() without a signal, as in tests). */
  onModuleDestroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.closing.next();
    this.closing.complete();
  }
}
