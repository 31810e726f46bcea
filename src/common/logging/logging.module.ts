import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import type { DestinationStream, Logger } from 'pino';
import { AppSettings } from '../config/app.settings';
import { AppLogger, NestPinoLogger, ROOT_LOGGER } from './app-logger';
import { createRootLogger } from './logging';

/** One pino logger per app (tests run several apps, each with its own stream and level). */
@Global()
@Module({})
export class LoggingModule implements OnApplicationShutdown {
  constructor(@Inject(ROOT_LOGGER) private readonly root: Logger) {}

  /** Lines still buffered (see stdoutDestination) are written before the process goes. */
  onApplicationShutdown(): void {
    this.root.flush();
  }

  /** `root`: the logger createApp made before Nest started (so that Nest's own start-up lines are JSON too). */
  static forRoot(destination?: DestinationStream, root?: Logger): DynamicModule {
    return {
      module: LoggingModule,
      providers: [
        root
          ? { provide: ROOT_LOGGER, useValue: root }
          : {
              provide: ROOT_LOGGER,
              inject: [AppSettings],
              useFactory: (c: AppSettings) => createRootLogger(c.logLevel, destination),
            },
        AppLogger,
        NestPinoLogger,
      ],
      exports: [ROOT_LOGGER, AppLogger, NestPinoLogger],
    };
  }
}
