/**
 * Ceiling for REST and gRPC-web: the least a NestJS 12 + Express app can do for a POST, with
 * the same framework, adapter and JSON body parser as the service, and nothing else (no guard,
 * pipe, interceptor, logger or database). Run by bench/run.ts as its own process: PORT=… node -r
 * ts-node/register/transpile-only bench/ceiling/nest-express.ts
 */
import 'reflect-metadata';
import { Body, Controller, Get, HttpCode, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';

@Controller()
class CeilingController {
  @Post('ceiling')
  @HttpCode(200)
  ping(@Body() body: { verificationCode?: string }) {
    return { details: { sequence: '1', resourceOwner: body.verificationCode ?? '' } };
  }

  @Get('healthz')
  health() {
    return { status: 'SERVING' };
  }
}

@Module({ controllers: [CeilingController] })
class CeilingModule {}

async function main() {
  const app = await NestFactory.create<NestExpressApplication>(CeilingModule, { logger: ['error', 'warn'] });
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT ?? 8080), '127.0.0.1');
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
