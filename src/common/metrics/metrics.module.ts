import { DynamicModule, Global, Module } from '@nestjs/common';
import { Metrics } from './metrics';

/** The app's Metrics, injectable everywhere. */
@Global()
@Module({})
export class MetricsModule {
  static forRoot(metrics: Metrics = new Metrics()): DynamicModule {
    return { module: MetricsModule, providers: [{ provide: Metrics, useValue: metrics }], exports: [Metrics] };
  }
}
