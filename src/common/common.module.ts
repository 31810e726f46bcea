import { DynamicModule, Global, Module } from '@nestjs/common';
import { Clock } from './clock';
import { DependencyOutages } from './errors/dependency-outages';
import { EventStore } from './events/event-store';
import { IdGenerator } from './ids/id-generator';

@Global()
@Module({})
export class CommonModule {
  static forRoot(clock: Clock = new Clock()): DynamicModule {
    return {
      module: CommonModule,
      providers: [IdGenerator, EventStore, DependencyOutages, { provide: Clock, useValue: clock }],
      exports: [IdGenerator, EventStore, DependencyOutages, Clock],
    };
  }
}
