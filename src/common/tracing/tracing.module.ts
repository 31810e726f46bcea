import { DynamicModule, Global, Module } from '@nestjs/common';
import { DISABLED, Tracing } from './tracing';

/** The app's Tracing, injectable everywhere (background work starts its root spans with it). */
@Global()
@Module({})
export class TracingModule {
  static forRoot(tracing: Tracing = DISABLED): DynamicModule {
    return { module: TracingModule, providers: [{ provide: Tracing, useValue: tracing }], exports: [Tracing] };
  }
}
