// The container image's HEALTHCHECK (docs/deploy.md): GET /livez inside the container, exit 0 when it
// answers 200 within 3 s. The management port (METRICS_PORT) answers while the public port is
// saturated; with METRICS_PORT=0 the public port is asked (over TLS, unverified, when it speaks TLS).
const http = require('node:http');
const https = require('node:https');

const env = process.env;
/** A wildcard address is reached on loopback; a named one where it listens. */
const local = (host) => (!host || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host);
const management = env.METRICS_PORT !== '0';
const target = management
  ? { client: http, host: local(env.METRICS_HOST ?? '127.0.0.1'), port: Number(env.METRICS_PORT || 9464) }
  : { client: env.TLS_CERT_FILE ? https : http, host: local(env.HOST), port: Number(env.PORT || 8080) };

const fail = (why) => {
  process.stderr.write(`unhealthy: ${why}\n`);
  process.exit(1);
};
const request = target.client.get(
  { host: target.host, port: target.port, path: '/livez', timeout: 3_000, rejectUnauthorized: false },
  (res) => {
    res.resume();
    if (res.statusCode === 200) process.exit(0);
    fail(`GET /livez on ${target.host}:${target.port} answered ${res.statusCode}`);
  },
);
request.on('timeout', () => request.destroy(new Error('no answer within 3 s')));
request.on('error', (error) => fail(`GET /livez on ${target.host}:${target.port}: ${error.message}`));
