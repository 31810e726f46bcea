import { DynamicModule, Global, Module, Provider } from '@nestjs/common';
import { groupOf, SettingsClass } from './setting';

/** The composition and every group in it, each provided by its class. */
function providersOf(group: object): Provider[] {
  const children = groupOf(group.constructor as SettingsClass).children;
  return [
    { provide: group.constructor, useValue: group },
    ...children.flatMap(({ key }) => providersOf((group as Record<string, object>)[key])),
  ];
}

/**
 * The validated settings (src/app.config.ts), injectable group by group:
 * `constructor(private readonly sms: SmsSettings)`.
 */
@Global()
@Module({})
export class AppConfigModule {
  static forRoot(config: object): DynamicModule {
    const providers = providersOf(config);
    return {
      module: AppConfigModule,
      providers,
      exports: providers.map((provider) => (provider as { provide: object }).provide as SettingsClass),
    };
  }
}
