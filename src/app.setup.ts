import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import { AppModule, AppOptions } from './app.module';
import { AppConfig } from './common/config/app-config.module';

/** Builds the HTTP app exactly as `npm start` runs it; tests use the same function. */
export async function createApp(options: AppOptions = {}): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(options), {
    bufferLogs: true,
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  const config = app.get(AppConfig);
  app.useBodyParser('json', { limit: config.REQUEST_BODY_LIMIT });
  app.enableShutdownHooks();
  setUpSwagger(app);
  return app;
}

function setUpSwagger(app: INestApplication): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Phone verification')
      .setDescription(
        "Sets a user's phone number, sends a one-time code and verifies it. Wire-compatible with ZITADEL's " +
          'User Service v2 (REST, gRPC, gRPC-web). Authenticate with `Authorization: Bearer <token>`.',
      )
      .setVersion('2')
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'personal access token or JWT access token' })
      .build(),
  );
  SwaggerModule.setup('docs', app, document, {
    jsonDocumentUrl: 'openapi.json',
    swaggerOptions: { persistAuthorization: true },
  });
}
