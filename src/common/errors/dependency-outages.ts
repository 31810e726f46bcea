import { Injectable } from '@nestjs/common';
import { AppLogger } from '../logging/app-logger';
import { databaseFault, Dependency, DependencyError, describeCause } from './dependency-error';

interface Outage {
  since: number;
  failures: number;
}

/**
 * The log of each dependency's outages: the first failure of an outage is logged with its cause,
 * later ones are only counted, and the first success after it logs the recovery with the count.
 * Failures are reported where they are answered (normalizeError), successes by the adapters.
 */
@Injectable()
export class DependencyOutages {
  private readonly down = new Map<Dependency, Outage>();

  constructor(private readonly logger: AppLogger) {
    logger.setContext(DependencyOutages.name);
  }

  failed(error: DependencyError): void {
    const outage = this.down.get(error.dependency);
    if (outage) {
      outage.failures++;
      return;
    }
    this.down.set(error.dependency, { since: Date.now(), failures: 1 });
    this.logger.error(
      { dependency: error.dependency, cause: describeCause(error.cause) },
      `${error.dependency} unavailable: answering 503 until it recovers`,
    );
  }

  /**
   * A database fault counts towards the database's outage (logged once; the work is retried) and
   * answers true; anything else answers false, a bug for the caller to log.
   */
  databaseFailed(error: unknown): boolean {
    const fault = databaseFault(error);
    if (fault) this.failed(fault);
    return fault !== undefined;
  }

  /** Called on every successful call to a dependency: a map lookup unless it was down. */
  succeeded(dependency: Dependency): void {
    if (this.down.size === 0) return;
    const outage = this.down.get(dependency);
    if (!outage) return;
    this.down.delete(dependency);
    this.logger.info(
      { dependency, downMs: Date.now() - outage.since, failures: outage.failures },
      `${dependency} recovered`,
    );
  }

  isDown(dependency: Dependency): boolean {
    return this.down.has(dependency);
  }
}
