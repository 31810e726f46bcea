import { Injectable } from '@nestjs/common';
import { Observable, ReplaySubject } from 'rxjs';

/**
 * Whether this instance takes new work. It stops being ready the moment a shutdown starts, before
 * anything closes, so that load balancers (via /healthz and gRPC Health) move on while requests
 * already read are still answered.
 */
@Injectable()
export class Readiness {
  private stoppingNow = false;
  private readonly stop$ = new ReplaySubject<void>(1);

  get stopping(): boolean {
    return this.stoppingNow;
  }

  /** Emits once, when the shutdown starts (at once for a late subscriber). */
  get stopping$(): Observable<void> {
    return this.stop$;
  }

  stop(): void {
    if (this.stoppingNow) return;
    this.stoppingNow = true;
    this.stop$.next();
    this.stop$.complete();
  }
}
