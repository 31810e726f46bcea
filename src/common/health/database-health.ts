import { Injectable, Optional } from '@nestjs/common';
import { Database } from '../../database/sql';
import { databaseFault } from '../errors/dependency-error';
import { DependencyOutages } from '../errors/dependency-outages';

@Injectable()
export class DatabaseHealth {
  constructor(
    private readonly db: Database,
    @Optional() private readonly outages?: DependencyOutages,
  ) {
    // a new PostgreSQL connection means the server is back (the first one after an outage is made
    // by whichever call comes first, a read too); committed transactions say so as well
    if (outages) db.onConnection(() => outages.succeeded('database'));
  }

  async isUp(): Promise<boolean> {
    try {
      await this.db.rows(undefined, 'SELECT 1');
      this.outages?.succeeded('database');
      return true;
    } catch (error) {
      const fault = databaseFault(error);
      if (fault) this.outages?.failed(fault);
      return false;
    }
  }
}
