import { DynamicModule, Module, Provider } from '@nestjs/common';
import { Clock } from './common/clock';
import { APP_FILTER, APP_GUARD, APP_PIPE, DiscoveryModule } from '@nestjs/core';
import type { DestinationStream, Logger } from 'pino';
import { AuthGuard } from './common/auth/auth.guard';
import { ThrottleGuard } from './common/throttle/throttle.guard';
import { CommonModule } from './common/common.module';
import { AppConfigModule } from './common/config/app-config.module';
import { AppConfig, validateEnvironment } from './app.config';
import { DatabaseModule } from './database/database.module';
import { LimitsModule } from './common/limits/limits.module';
import { AppErrorFilter } from './common/errors/error.filter';
import { RouteMethods } from './common/http/route-methods';
import { HealthModule } from './common/health/health.module';
import { LoggingModule } from './common/logging/logging.module';
import { ProtoValidationPipe } from './common/validation/proto-validation.pipe';
import { PhoneModule } from './phone/phone.module';
import type { Tracing } from './common/tracing/tracing';
import { TracingModule } from './common/tracing/tracing.module';
import { MetricsModule } from './common/metrics/metrics.module';
import { UsersModule } from './users/users.module';

export interface AppOptions {
  /** Settings laid over process.env (tests run several apps with different settings). */
  env?: Record<string, string | undefined>;
  /** Where the JSON log goes (default stdout); tests capture it. */
  logStream?: DestinationStream;
  /** The service's time (tests move it). */
  clock?: Clock;
  /** Settings validated already (createApp's; then `env` is not read). */
  config?: AppConfig;
  /** The root logger made before Nest started (then `logStream` is not used). */
  rootLogger?: Logger;
  /** The app's tracing (createApp makes it from the OTEL_* settings); flushed and shut down on close. */
  tracing?: Tracing;
  /** Providers that replace the phone module's own of the same token (tests: fake channel senders). */
  phoneProviders?: Provider[];
}

@Module({})
export class AppModule {
  static forRoot(options: AppOptions = {}): DynamicModule {
    const phone = options.phoneProviders?.length
      ? { module: PhoneModule, providers: options.phoneProviders }
      : PhoneModule;
    return {
      module: AppModule,
      imports: [
        AppConfigModule.forRoot(options.config ?? validateEnvironment({ ...process.env, ...options.env })),
        LoggingModule.forRoot(options.logStream, options.rootLogger),
        TracingModule.forRoot(options.tracing),
        MetricsModule.forRoot(),
        DatabaseModule,
        CommonModule.forRoot(options.clock),
        LimitsModule,
        HealthModule,
        UsersModule.with(phone),
        phone,
        DiscoveryModule,
      ],
      providers: [
        RouteMethods,
        { provide: APP_GUARD, useClass: ThrottleGuard },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_PIPE, useClass: ProtoValidationPipe },
        { provide: APP_FILTER, useClass: AppErrorFilter },
      ],
    };
  }
}
