import { DynamicModule, Global, Module } from '@nestjs/common';
import { EnvironmentVariables, validateEnvironment } from './env.schema';

/** The validated settings, injectable by class: `constructor(private readonly config: AppConfig)`. */
export abstract class AppConfig extends EnvironmentVariables {}

@Global()
@Module({})
export class AppConfigModule {
  /**
   * `overrides` take precedence over process.env (tests use it to run several apps side by side);
   * settings validated already (createApp's) are taken as they are.
   */
  static forRoot(overrides: Record<string, string | undefined> = {}, validated?: EnvironmentVariables): DynamicModule {
    const config = validated ?? validateEnvironment({ ...process.env, ...overrides });
    return {
      module: AppConfigModule,
      providers: [{ provide: AppConfig, useValue: config }],
      exports: [AppConfig],
    };
  }
}
