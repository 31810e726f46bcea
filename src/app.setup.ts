import { ServerCredentials, type Server as GrpcServer } from '@grpc/grpc-js';
import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { NestExpressApplication } from '@nestjs/platform-express';
import { raw, type NextFunction, type Request, type Response } from 'express';
import { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { DocumentBuilder, OpenAPIObject, SwaggerModule } from '@nestjs/swagger';
import { AppModule, AppOptions } from './app.module';
import { answerClientErrors, countHeaderLines, tooManyHeaders } from './common/errors/http-client-errors';
import { grpcOptions } from './common/grpc/grpc-options';
import { GrpcServer as GrpcStrategy } from './common/grpc/grpc-server';
import { cors } from './common/http/cors';
import { jsonBodiesOnly } from './common/http/json-bodies';
import { DOCS_PATH, OPENAPI_PATH } from './common/http/route-methods';
import { OnePort } from './common/http/one-port';
import { rpcOverHttp } from './common/rpc/rpc-middleware';
import { unknownSettingsIn, validateEnvironment } from './app.config';
import { HttpSettings } from './common/http/http.settings';
import { NestPinoLogger, ROOT_LOGGER } from './common/logging/app-logger';
import { createRootLogger } from './common/logging/logging';
import { requestLog } from './common/logging/request-log';
import { continueHttpSpan } from './common/tracing/server-spans';
import { createTracing } from './common/tracing/tracing';
import { ManagementServer } from './common/metrics/management-server';
import { RequestMetrics } from './common/metrics/request-metrics';
import { StartupError } from './common/startup/startup-error';

/** The route of SmsReceiptsController, whose bodies are kept raw for the providers' signatures. */
const RECEIPTS_PATH = '/v2/sms/receipts';

const grpcServers = new WeakMap<INestApplication, GrpcServer>();
const grpcStrategies = new WeakMap<INestApplication, GrpcStrategy>();
const onePorts = new WeakMap<INestApplication, OnePort>();

/** grpc-js's server of a started app (for the graceful stop). */
export function grpcServerOf(app: INestApplication): GrpcServer | undefined {
  return grpcServers.get(app);
}

/** What serves HTTP/2 and TLS on the HTTP port of a started app (for the graceful stop). */
export function onePortOf(app: INestApplication): OnePort | undefined {
  return onePorts.get(app);
}

/**
 * Builds the app exactly as `npm start` runs it (tests use the same function): REST, gRPC-web,
 * Connect and Swagger on HTTP, and the gRPC microservice on the same guards, pipes and filters.
 */
export async function createApp(options: AppOptions = {}): Promise<NestExpressApplication> {
  const settings = options.config ?? validateEnvironment({ ...process.env, ...options.env });
  const rootLogger = options.rootLogger ?? createRootLogger(settings.app.logLevel, options.logStream);
  for (const { name, closest } of unknownSettingsIn({ ...process.env, ...options.env })) {
    // the name only: the value may be a secret
    rootLogger.warn({ variable: name, closest }, `${name} is not a setting and is ignored: did you mean ${closest}?`);
  }
  // before anything else, so that the first request is traced (off, it loads nothing)
  const tracing = createTracing({ ...process.env, ...options.env });
  // Nest logs through pino from its first line; a failing start is thrown to the caller (main.ts
  // logs it once) instead of being printed by Nest and ended with process.exit
  const app = await NestFactory.create<NestExpressApplication>(
    AppModule.forRoot({ ...options, config: settings, rootLogger, tracing }),
    { logger: new NestPinoLogger(rootLogger), abortOnError: false, bodyParser: false },
  );
  app.useLogger(app.get(NestPinoLogger));
  const config = app.get(HttpSettings);
  app.set('trust proxy', config.trustedProxies ? config.trustedProxies.split(',').map((p) => p.trim()) : false);
  // no "X-Powered-By: Express"; no ETag: answers are per caller and never cached (as ZITADEL's),
  // and Express would hash every response body for it
  app.disable('x-powered-by');
  app.set('etag', false);
  const server = app.getHttpServer() as Server;
  // idle keep-alive connections outlive the 60 s of load balancers, which so never race our close
  server.keepAliveTimeout = config.keepAliveTimeoutMs;
  server.headersTimeout = config.keepAliveTimeoutMs + 1_000;
  answerClientErrors(server, app.get(ROOT_LOGGER));
  countHeaderLines(server);
  const requestMetrics = app.get(RequestMetrics);
  const grpc = new GrpcStrategy(
    grpcOptions(
      config.host,
      config.grpcPort,
      app.get(ROOT_LOGGER),
      (server) => grpcServers.set(app, server),
      tracing,
      requestMetrics,
      config.trustedProxies,
    ).options,
    config.host,
    config.grpcPort,
  );
  grpcStrategies.set(app, grpc);
  app.use(
    inSequence(
      unconditional,
      requestLog(app.get(ROOT_LOGGER), tracing, requestMetrics),
      tooManyHeaders,
      cors(config.corsOrigins),
      rpcOverHttp({ handlers: grpc.handlers, bodyLimit: config.bodyLimit, logger: app.get(ROOT_LOGGER) }),
    ),
  );
  // delivery receipts are signed over their bytes as sent (JSON or a form): that route alone keeps them raw
  app.use(RECEIPTS_PATH, raw({ type: () => true, limit: config.bodyLimit }));
  app.useBodyParser('json', { limit: config.bodyLimit });
  app.use(jsonBodiesOnly);
  if (tracing.enabled) app.use(continueHttpSpan);
  app.connectMicroservice({ strategy: grpc }, { inheritAppConfig: true });
  // no enableShutdownHooks: main.ts installs the graceful stop (Nest's would wait for keep-alive clients forever)
  // REST requests are counted under their operation (UserService/VerifyPhone), as on gRPC
  requestMetrics.setRestOperations(setUpSwagger(app).paths);
  ignoreUnknownExpectations(app);
  return app;
}

/**
 * Node answers an `Expect` other than 100-continue with a bare 417 and no body; RFC 9110 lets a
 * server ignore it instead, so such a request is answered like any other (with the error body if
 * it is wrong). A CONNECT request gets its answer (404, no such route) the same way.
 */
function ignoreUnknownExpectations(app: NestExpressApplication): void {
  const server = app.getHttpServer() as Server;
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => server.emit('request', req, res));
  // CONNECT is no route of ours, but without a listener Node drops the connection without a word
  server.on('connect', (req: IncomingMessage, socket: Socket) => {
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket);
    res.on('finish', () => socket.end());
    server.emit('request', req, res);
  });
}

type Middleware = (req: Request, res: Response, next: NextFunction) => void;

/**
 * Middlewares that every request passes, run one after the other as one layer of Express's
 * router: each layer costs the router its path match and bookkeeping on every request. As in the
 * router, a middleware's error (passed to `next` or thrown) skips the rest and goes to Express.
 */
export function inSequence(...steps: Middleware[]): Middleware {
  return (req, res, next) => {
    let index = 0;
    const step = (error?: unknown): void => {
      if (error !== undefined && error !== null) return next(error);
      const middleware = steps[index++];
      if (!middleware) return next();
      try {
        middleware(req, res, step);
      } catch (thrown) {
        next(thrown);
      }
    };
    step();
  };
}

/**
 * The API has no conditional requests: without this, Express answers a GET carrying
 * `If-None-Match: *` or an `If-Modified-Since` with an empty 304, even though it never sent an
 * ETag or a date. The docs' static files keep theirs.
 */
function unconditional(req: Request, _res: Response, next: NextFunction): void {
  if (!req.path.startsWith('/docs')) {
    if (req.headers['if-none-match'] !== undefined) delete req.headers['if-none-match'];
    if (req.headers['if-modified-since'] !== undefined) delete req.headers['if-modified-since'];
  }
  next();
}

function setUpSwagger(app: INestApplication): OpenAPIObject {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('Phone verification')
      .setDescription(
        "Sets a user's phone number, sends a one-time code and verifies it. Wire-compatible with ZITADEL's " +
          'User Service v2 (REST, gRPC, gRPC-web). Authenticate with `Authorization: Bearer <token>`.',
      )
      .setVersion('2')
      .addBearerAuth({
        type: 'http',
        scheme: 'bearer',
        bearerFormat: 'personal access token or JWT',
        description:
          'A personal access token (opaque) or, with OIDC_ISSUER and OIDC_JWKS_URL or OIDC_JWKS_FILE set, a JWT access token. On the first ' +
          'start the service creates an IAM_OWNER machine user and writes its personal access token to ' +
          '`FIRST_INSTANCE_PAT_PATH` (default `./data/admin.pat`); AddPersonalAccessToken makes more.',
      })
      .build(),
  );
  SwaggerModule.setup(DOCS_PATH, app, document, {
    jsonDocumentUrl: OPENAPI_PATH,
    swaggerOptions: { persistAuthorization: true },
  });
  return document;
}

/**
 * Starts the gRPC server, then the HTTP server, then the management listener (METRICS_PORT; its
 * address is returned, undefined when it is off). It closes with the app, after the others.
 */
export async function startApp(app: NestExpressApplication): Promise<AddressInfo | undefined> {
  const config = app.get(HttpSettings);
  await app.startAllMicroservices();
  const grpc = grpcServers.get(app)!;
  onePorts.set(
    app,
    new OnePort({
      http1: app.getHttpServer() as Server,
      grpc: grpc.createConnectionInjector(ServerCredentials.createInsecure()),
      tls:
        config.tlsCertFile && config.tlsKeyFile
          ? { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile }
          : undefined,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      prefaceLimit: config.bodyLimit + 64 * 1024,
      logger: app.get(ROOT_LOGGER),
    }),
  );
  // the app's start-up hooks run here, so that only the port's own failure is reported as the port's
  await app.init();
  try {
    await app.listen(config.port, config.host);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).syscall !== 'listen') throw error;
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    throw new StartupError(`PORT ${config.port} on ${config.host} cannot be opened (${reason}); set another port`, {
      setting: 'PORT',
      reason,
      host: config.host,
      port: config.port,
    });
  }
  return app.get(ManagementServer).listen();
}
