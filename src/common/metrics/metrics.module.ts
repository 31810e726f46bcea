import { DynamicModule, Global, Module } from '@nestjs/common';
import { DatabaseMetrics } from './database-metrics';
import { ManagementServer } from './management-server';
import { Metrics } from './metrics';
import { RequestMetrics } from './request-metrics';

/** The app's Metrics, injectable everywhere; the request and database series; the management listener. */
@Global()
@Module({})
export class MetricsModule {
  static forRoot(metrics: Metrics = new Metrics()): DynamicModule {
    return {
      module: MetricsModule,
      providers: [
        { provide: Metrics, useValue: metrics },
        { provide: RequestMetrics, inject: [Metrics], useFactory: (m: Metrics) => new RequestMetrics(m) },
        DatabaseMetrics,
        ManagementServer,
      ],
      exports: [Metrics, RequestMetrics, ManagementServer],
    };
  }
}
