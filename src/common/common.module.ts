import { Global, Module } from '@nestjs/common';
import { EventStore } from './events/event-store';
import { IdGenerator } from './ids/id-generator';

@Global()
@Module({
  providers: [IdGenerator, EventStore],
  exports: [IdGenerator, EventStore],
})
export class CommonModule {}
