import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { AppConfig, validateEnvironment } from '../src/app.config';
import { settingsCatalogue } from '../src/common/config/settings-reader';
import { copies, environment, instructions, readDockerfile, single } from './support/dockerfile';
import { freePort } from './support/free-port';
import { startApp, TestApp } from './support/test-app';

const ROOT = join(__dirname, '..');
const CHART = join(ROOT, 'deploy/helm/phone-verify');
const TEMPLATES = join(CHART, 'templates');

/**
 * Issue 28, point 5: the Helm chart. No helm binary runs here, so the chart is checked as text
 * and YAML: values.yaml against the service's settings, the templates' probes and ports against
 * the routes and ports of a running app and the Dockerfile, and the templates' references.
 */
describe('Helm chart (deploy/helm/phone-verify)', () => {
  const catalogue = settingsCatalogue(AppConfig);
  const settings = catalogue.map((setting) => setting.env);
  const defaults = Object.fromEntries(catalogue.map(({ env, value }) => [env, value]));
  const values = readYaml(join(CHART, 'values.yaml'));
  const config = values.config as Record<string, unknown>;
  const secrets = values.secrets as Record<string, unknown>;
  const deployment = template('deployment.yaml');
  const runtime = readDockerfile(ROOT).at(-1)!;

  it('has YAML that parses and the version of package.json', () => {
    const chart = readYaml(join(CHART, 'Chart.yaml'));
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    expect([chart.apiVersion, chart.name, chart.appVersion]).toEqual(['v2', 'phone-verify', version]);
  });

  it('lists every setting of the service once, under config or secrets, and nothing else there', () => {
    const listed = [...Object.keys(config), ...Object.keys(secrets)];
    expect(settings.filter((name) => !listed.includes(name))).toEqual([]);
    expect(listed.filter((name) => !settings.includes(name))).toEqual([]);
    expect(listed.length).toBe(new Set(listed).size);
  });

  it('keeps credentials, and URLs that can carry them, in the Secret', () => {
    const credential = (name: string) =>
      /_(KEY|TOKEN|SECRET)$/.test(name) || ['DATABASE_URL', 'REDIS_URL', 'EVENT_WEBHOOKS'].includes(name);
    expect(settings.filter(credential).sort()).toEqual(Object.keys(secrets).sort());
    // strings only: Helm would turn a bare number into a float (1e+06)
    const notStrings = Object.entries({ ...config, ...secrets }).filter(([, value]) => typeof value !== 'string');
    expect(notStrings).toEqual([]);
  });

  it("sets only values the service accepts (with the Secret's settings a production start needs)", () => {
    const set = Object.fromEntries(Object.entries(config).filter(([, value]) => value !== ''));
    const accepted = validateEnvironment({
      ...set,
      DATABASE_URL: 'postgres://phone:secret@postgres:5432/phone',
      CODE_HMAC_KEY: `k1:${randomBytes(32).toString('base64')}`,
      SMS_PROVIDER: 'webhook',
      SMS_WEBHOOK_URL: 'https://sms.example.com/send',
      SMS_WEBHOOK_SIGNING_KEY: randomBytes(32).toString('hex'),
    });
    expect(accepted.app.nodeEnv).toBe('production');
    // the kubelet probes the pod's address, not its loopback
    expect(accepted.metrics.host).toBe('0.0.0.0');
    // one service port: gRPC on PORT
    expect(accepted.http.grpcPort).toBe(0);
  });

  it("declares the service's default ports, the service port and the management port only", () => {
    expect([config.PORT, config.METRICS_PORT]).toEqual([String(defaults.PORT), String(defaults.METRICS_PORT)]);
    expect(portsOf(deployment)).toEqual([
      { name: 'http', value: '.Values.config.PORT | int' },
      { name: 'management', value: '.Values.config.METRICS_PORT | int' },
    ]);
    const service = template('service.yaml');
    expect(
      [...service.matchAll(/- name: (\S+)\n\s+port: \{\{ (.+?) \}\}\n\s+targetPort: (\S+)/g)].map((m) => m.slice(1)),
    ).toEqual([
      ['http', '.Values.service.port', 'http'],
      ['management', '.Values.config.METRICS_PORT | int', 'management'],
    ]);
    expect(String((values.service as Record<string, unknown>).port)).toBe(config.PORT);
    // the image serves the same two ports
    const { PORT, METRICS_PORT } = environment(runtime);
    expect([PORT, METRICS_PORT]).toEqual([config.PORT, config.METRICS_PORT]);
  });

  describe('probes and metrics, asked of a running app on its management port', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await startApp('sqlite', { METRICS_PORT: String(await freePort()) });
    }, 60_000);
    afterAll(() => t?.close(), 60_000);

    it('answers 200 on each probe path the Deployment uses, and on the ServiceMonitor path', async () => {
      const probes = probesOf(deployment);
      expect(probes).toEqual({
        startupProbe: { path: '/livez', port: 'management' },
        livenessProbe: { path: '/livez', port: 'management' },
        readinessProbe: { path: '/readyz', port: 'management' },
      });
      const monitor = /- port: (\S+)\n\s+path: (\S+)/.exec(template('servicemonitor.yaml'))!;
      expect([monitor[1], monitor[2]]).toEqual(['management', '/metrics']);
      const apiVersion = /apiVersion: (\S+)/.exec(template('servicemonitor.yaml'))![1];
      expect(apiVersion).toBe('monitoring.coreos.com/v1');

      for (const path of [...Object.values(probes).map((probe) => probe.path), monitor[2]]) {
        const res = await fetch(`http://127.0.0.1:${t.managementPort}${path}`, { signal: AbortSignal.timeout(20_000) });
        expect([path, res.status]).toEqual([path, 200]);
      }
      // the liveness probe asks no dependency: /livez says SERVING without a check list
      const live = await fetch(`http://127.0.0.1:${t.managementPort}/livez`, { signal: AbortSignal.timeout(20_000) });
      expect(await live.json()).toEqual({ status: 'SERVING' });
    }, 60_000);
  });

  it("runs the image's user on a read-only root file system, /data the one writable path", () => {
    const pod = values.podSecurityContext as Record<string, unknown>;
    const container = values.securityContext as Record<string, unknown>;
    const [uid, gid] = single(runtime, 'USER').split(':').map(Number);
    expect([pod.runAsNonRoot, pod.runAsUser, pod.runAsGroup, pod.fsGroup]).toEqual([true, uid, gid, gid]);
    expect([container.readOnlyRootFilesystem, container.allowPrivilegeEscalation]).toEqual([true, false]);
    const volumes = instructions(runtime, 'VOLUME').flatMap((args) => JSON.parse(args) as string[]);
    expect(volumes).toEqual(['/data']);
    expect([...deployment.matchAll(/mountPath: (\S+)/g)].map((m) => m[1])).toEqual(volumes);
    // the files the service writes: on that volume (DATABASE_URL: the SQLite file, set by the template)
    const written = settings.filter((name) => String(defaults[name]).startsWith('./'));
    expect(written).toEqual(expect.arrayContaining(['DATABASE_URL', 'FIRST_INSTANCE_PAT_PATH', 'CODE_HMAC_KEY_FILE']));
    for (const name of written.filter((setting) => setting !== 'DATABASE_URL')) {
      expect([name, config[name]]).toEqual([name, expect.stringMatching(/^\/data\//)]);
    }
    expect(template('_helpers.tpl')).toMatch(/- name: DATABASE_URL\n\s+value: \/data\/[\w.-]+\n/);
    // on PostgreSQL the Secret must name it: without, the image's SQLite default would apply unseen
    expect(template('_helpers.tpl')).toMatch(
      /- name: DATABASE_URL\n\s+valueFrom:\n\s+secretKeyRef:\n.+\n\s+key: DATABASE_URL\n/,
    );
  });

  it('migrates in a pre-upgrade Job, with a script the image holds', () => {
    const job = template('migration-job.yaml');
    expect(job).toMatch(/helm\.sh\/hook: pre-upgrade\n/);
    expect(job).toContain('command: {{ toJson .Values.migrations.job.command }}');
    const command = (values.migrations as { job: { command: string[] } }).job.command;
    expect(command[0]).toBe('node');
    const inImage = copies(runtime).flatMap((copy) => copy.sources);
    expect(inImage).toContain(command[1]);
    // the Job's pod is none of the Service's endpoints
    expect(job).not.toContain('include "phone-verify.selectorLabels" . | nindent 8');
  });

  it('refers only to values that exist, to templates it defines, and closes every block', () => {
    const helpers = template('_helpers.tpl');
    const defined = [...helpers.matchAll(/\{\{-? define "([^"]+)"/g)].map((m) => m[1]);
    for (const file of readdirSync(TEMPLATES)) {
      const text = template(file);
      const missing = [...text.matchAll(/\$?\.Values\.([\w.]+)/g)]
        .map((m) => m[1])
        .filter((path) => lookup(values, path) === undefined);
      expect([file, missing]).toEqual([file, []]);
      const unknown = [...text.matchAll(/(?:include|template) "([^"]+)"/g)]
        .map((m) => m[1])
        .filter((name) => !defined.includes(name));
      expect([file, unknown]).toEqual([file, []]);
      const opened = [...text.matchAll(/\{\{-?\s*(if|range|with|define)\b/g)].length;
      const closed = [...text.matchAll(/\{\{-?\s*end\s*-?\}\}/g)].length;
      expect([file, opened]).toEqual([file, closed]);
    }
  });
});

function readYaml(path: string): Record<string, unknown> {
  const document = parseDocument(readFileSync(path, 'utf8'), { prettyErrors: true });
  if (document.errors.length > 0) throw new Error(`${path}: ${document.errors.map((e) => e.message).join('; ')}`);
  return document.toJS() as Record<string, unknown>;
}

function template(file: string): string {
  return readFileSync(join(TEMPLATES, file), 'utf8');
}

/** `a.b.c` in the values; a key of a map the values leave empty (podAnnotations.x) counts as there. */
function lookup(values: Record<string, unknown>, path: string): unknown {
  let at: unknown = values;
  for (const key of path.split('.')) {
    if (typeof at !== 'object' || at === null) return undefined;
    at = (at as Record<string, unknown>)[key];
  }
  return at === null ? '' : at;
}

function portsOf(text: string): Array<{ name: string; value: string }> {
  return [...text.matchAll(/- name: (\S+)\n\s+containerPort: \{\{ (.+?) \}\}/g)].map((m) => ({
    name: m[1],
    value: m[2],
  }));
}

function probesOf(text: string): Record<string, { path: string; port: string }> {
  return Object.fromEntries(
    [...text.matchAll(/(\w+Probe):\n\s+httpGet:\n\s+path: (\S+)\n\s+port: (\S+)/g)].map((m) => [
      m[1],
      { path: m[2], port: m[3] },
    ]),
  );
}
