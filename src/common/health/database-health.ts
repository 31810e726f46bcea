import { Injectable, Optional } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { databaseFault } from '../errors/dependency-error';
import { DependencyOutages } from '../errors/dependency-outages';

/** The part of pg-pool this needs: it announces each new connection. */
interface Pool {
  on(event: 'connect', listener: () => void): void;
}

@Injectable()
export class DatabaseHealth {
  constructor(
    private readonly dataSource: DataSource,
    @Optional() private readonly outages?: DependencyOutages,
  ) {
    // a new PostgreSQL connection means the server is back (the first one after an outage is made
    // by whichever call comes first, a read too); committed transactions say so as well
    const pool = (dataSource.driver as { master?: Pool }).master;
    if (outages && pool) pool.on('connect', () => outages.succeeded('database'));
  }

  async isUp(): Promise<boolean> {
    try {
      await this.dataSource.query('SELECT 1');
      this.outages?.succeeded('database');
      return true;
    } catch (error) {
      const fault = databaseFault(error);
      if (fault) this.outages?.failed(fault);
      return false;
    }
  }
}
