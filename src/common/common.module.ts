import { DynamicModule, Global, Module } from '@nestjs/common';
import { Clock } from './clock';
import { DependencyOutages } from './errors/dependency-outages';
import { EventsRepository } from './events/events.repository';
import { EventTaps } from './events/event-taps';
import { IdGenerator } from './ids/id-generator';
import { NodeLeasesRepository } from './ids/node-leases.repository';

@Global()
@Module({})
export class CommonModule {
  static forRoot(clock: Clock = new Clock()): DynamicModule {
    return {
      module: CommonModule,
      providers: [
        IdGenerator,
        NodeLeasesRepository,
        EventsRepository,
        EventTaps,
        DependencyOutages,
        { provide: Clock, useValue: clock },
      ],
      exports: [IdGenerator, EventsRepository, EventTaps, DependencyOutages, Clock],
    };
  }
}
