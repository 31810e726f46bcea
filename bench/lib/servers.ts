import { credentials, loadPackageDefinition, Metadata, ServiceError } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { join } from 'node:path';
import { LOADER_OPTIONS, SERVICE_PROTOS } from '../../src/common/grpc/proto-files';
import { DbProxy, startDbProxy } from './db-proxy';
import { Child, freePort, RssSampler, startChild, waitUntil } from './processes';

export const ROOT = join(__dirname, '..', '..');

/** The protos the service serves, loaded as the service and its tests load them. */
export const PACKAGE_DEFINITION = loadSync(SERVICE_PROTOS, LOADER_OPTIONS);
const LOADED = loadPackageDefinition(PACKAGE_DEFINITION) as any;
export const UserServiceClient = LOADED.zitadel.user.v2.UserService as new (
  address: string,
  creds: ReturnType<typeof credentials.createInsecure>,
) => any;

/** GET /healthz answers 2xx. */
export function httpHealthy(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = get({ host: '127.0.0.1', port, path: '/healthz', timeout: 2000 }, (res) => {
      res.resume();
      resolve((res.statusCode ?? 500) < 300);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
  });
}

export interface ServerSettings {
  dir: string;
  databaseUrl: string;
  hmacKey: string;
  logLevel: string;
  /** DATABASE_POOL_SIZE; the service's default when undefined */
  poolSize?: number;
  /** Start under `node --cpu-prof`, writing the profile into this folder when stopped. */
  cpuProfDir?: string;
  /** PostgreSQL: connect through a proxy that counts the round trips (AppServer.roundTrips) */
  countRoundTrips?: boolean;
}

export interface AppServer {
  child: Child;
  httpPort: number;
  grpcPort: number;
  token: string;
  rss: RssSampler;
  /** the database it runs on (not through the proxy) */
  databaseUrl: string;
  /** round trips to PostgreSQL so far, with countRoundTrips */
  roundTrips?: () => Promise<number>;
  /** its management listener (/metrics) */
  metricsPort: number;
  stop(): Promise<void>;
}

/** Bounds the service accepts (docs/configuration.md), chosen so more wrong guesses fit per user. */
export const PHONE_CODE_MAX_ATTEMPTS = 10;
export const PHONE_MAX_FAILED_PER_DAY = 1000;
export const PHONE_CODE_TTL_MS = 86_400_000;

export function newHmacKey(): string {
  return `bench:${randomBytes(32).toString('base64')}`;
}

/** The entry point `npm start` runs, relative to ROOT. */
const MAIN = 'dist/src/main.js';

/**
 * The Node flags production starts the service with: the words between `node` and the entry point
 * of package.json's `start` script (`exec node [--flag …] dist/src/main.js`), so that the bench
 * measures the server exactly as `npm start` runs it and the flags live in one place.
 */
export function startScriptNodeFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
  const start = pkg.scripts?.start ?? '';
  const words = start.trim().split(/\s+/);
  if (words[0] === 'exec') words.shift();
  const flags = words.slice(1, -1);
  if (words[0] !== 'node' || words[words.length - 1] !== MAIN || flags.some((flag) => !flag.startsWith('--'))) {
    throw new Error(`package.json "start" should read "exec node [--flag …] ${MAIN}", not "${start}"`);
  }
  return flags;
}

let serverCount = 0;

/**
 * Starts dist/src/main.js as its own process, with the Node flags of `npm start`
 * (startScriptNodeFlags), and waits for /healthz and the admin token.
 */
export async function startAppServer(settings: ServerSettings): Promise<AppServer> {
  const httpPort = await freePort();
  const grpcPort = await freePort();
  const metricsPort = await freePort();
  const patPath = join(settings.dir, 'admin.pat');
  const proxy: DbProxy | undefined =
    settings.countRoundTrips && /^postgres(ql)?:\/\//.test(settings.databaseUrl)
      ? await startDbProxy(settings.databaseUrl, settings.dir)
      : undefined;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(httpPort),
    GRPC_PORT: String(grpcPort),
    // on, as in production (the request series count either way); a port of its own per server
    METRICS_PORT: String(metricsPort),
    DATABASE_URL: proxy?.url ?? settings.databaseUrl,
    FIRST_INSTANCE_PAT_PATH: patPath,
    CODE_HMAC_KEY: settings.hmacKey,
    CODE_HMAC_KEY_FILE: join(settings.dir, 'code-hmac.key'),
    LOG_LEVEL: settings.logLevel,
    SMS_PROVIDER: 'none',
    PHONE_CODE_MAX_ATTEMPTS: String(PHONE_CODE_MAX_ATTEMPTS),
    PHONE_MAX_FAILED_PER_DAY: String(PHONE_MAX_FAILED_PER_DAY),
    PHONE_CODE_TTL: '24h',
    // one client (the bench) sends everything: the per-client throttle (default 1200/min) would answer 429
    THROTTLE_LIMIT: '0',
    ...(settings.poolSize === undefined ? {} : { DATABASE_POOL_SIZE: String(settings.poolSize) }),
  };
  const main = join(ROOT, MAIN);
  // under --cpu-prof the profile is written on a normal exit only, and Nest ends itself with the
  // signal it received: SIGUSR2 (which the service does not use) makes it exit normally instead
  const args = settings.cpuProfDir
    ? [
        ...startScriptNodeFlags(),
        '--cpu-prof',
        '--cpu-prof-dir',
        settings.cpuProfDir,
        '-e',
        `process.on('SIGUSR2', () => process.exit(0)); require(${JSON.stringify(main)});`,
      ]
    : [...startScriptNodeFlags(), main];
  const name = `server-${++serverCount}`;
  const child = startChild(name, process.execPath, args, { cwd: ROOT, env }, join(settings.dir, `${name}.log`));
  await waitUntil(child, 'a healthy /healthz', () => httpHealthy(httpPort));
  const token = readFileSync(patPath, 'utf8').trim();
  const rss = new RssSampler(child.pid).start();
  return {
    child,
    httpPort,
    grpcPort,
    token,
    rss,
    databaseUrl: settings.databaseUrl,
    ...(proxy ? { roundTrips: () => proxy.count() } : {}),
    metricsPort,
    stop: async () => {
      rss.stop();
      await child.stop(settings.cpuProfDir ? 'SIGUSR2' : 'SIGTERM', 30_000);
      await proxy?.stop();
    },
  };
}

export interface CeilingServer {
  child: Child;
  port: number;
  rss: RssSampler;
  stop(): Promise<void>;
}

const TS_NODE = ['-r', 'ts-node/register/transpile-only'];

/** bench/ceiling/nest-express.ts as its own process. */
export async function startNestCeiling(dir: string): Promise<CeilingServer> {
  const port = await freePort();
  const child = startChild(
    'ceiling-nest-express',
    process.execPath,
    [...TS_NODE, join(ROOT, 'bench', 'ceiling', 'nest-express.ts')],
    { cwd: ROOT, env: { PATH: process.env.PATH, NODE_ENV: 'production', PORT: String(port) } },
    join(dir, 'ceiling-nest-express.log'),
  );
  await waitUntil(child, 'a healthy /healthz', () => httpHealthy(port));
  const rss = new RssSampler(child.pid).start();
  return {
    child,
    port,
    rss,
    stop: async () => {
      rss.stop();
      await child.stop();
    },
  };
}

/** bench/ceiling/grpc.ts as its own process. */
export async function startGrpcCeiling(dir: string): Promise<CeilingServer> {
  const port = await freePort();
  const child = startChild(
    'ceiling-grpc',
    process.execPath,
    [...TS_NODE, join(ROOT, 'bench', 'ceiling', 'grpc.ts')],
    { cwd: ROOT, env: { PATH: process.env.PATH, NODE_ENV: 'production', GRPC_PORT: String(port) } },
    join(dir, 'ceiling-grpc.log'),
  );
  await waitUntil(child, 'an answering gRPC server', async () => {
    const client = new UserServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      return await new Promise<boolean>((resolve) =>
        client.VerifyPhone(
          { userId: '1', verificationCode: '1' },
          new Metadata(),
          { deadline: Date.now() + 2000 },
          (error: ServiceError | null) => resolve(!error),
        ),
      );
    } finally {
      client.close();
    }
  });
  const rss = new RssSampler(child.pid).start();
  return {
    child,
    port,
    rss,
    stop: async () => {
      rss.stop();
      await child.stop();
    },
  };
}
