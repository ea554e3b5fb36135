import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { CONFIG_KEYS } from '../../src/config';
import { SA } from '../../src/shared/runbooks';
import { deployedWorkerHeapMiB } from '../kit/worker-process';

const ROOT = path.resolve(__dirname, '../..');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | number>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  stop_grace_period?: string;
  restart?: string;
  profiles?: string[];
  deploy?: { replicas?: number; resources?: { limits?: { memory?: string } } };
}

type Compose = { services: Record<string, Service>; volumes?: Record<string, unknown> };
const read = (file: string): unknown => parse(readFileSync(path.join(ROOT, file), 'utf8'), { merge: true });
const compose = read('docker-compose.yml') as Compose;
const demo = read('docker-compose.demo.yml') as Compose;
const services = compose.services;
/** Services built from this repository, configured by src/config.ts. */
const APP_SERVICES = ['worker', 'bot', 'codec-server'];
/** Services that run until stopped (the others are one-shot setup jobs). */
const LONG_RUNNING = ['postgresql', 'temporal', 'temporal-ui', 'codec-server', 'worker', 'bot'];
const LOCAL_AZURE_KEYS = ['LOCAL_AZURE_PORT', 'LOCAL_AZURE_HOST'];
/** Node's own settings, read by the runtime rather than src/config.ts. */
const NODE_KEYS = ['NODE_OPTIONS'];

/** `${KEY:-default}` → default; a plain value → itself. */
function defaultOf(value: string | number | undefined): string | undefined {
  if (value === undefined) return undefined;
  const match = /^\$\{\w+:?-(.*)\}$/.exec(String(value));
  return match ? match[1] : String(value);
}

describe('docker-compose.yml (validated statically; no engine runs here)', () => {
  test('when both compose files are checked against the Compose Specification schema, then they are valid', () => {
    // vendor/schemas/compose-spec.json: compose-spec/compose-spec schema/compose-spec.json (Apache-2.0).
    const schema = JSON.parse(readFileSync(path.join(ROOT, 'vendor/schemas/compose-spec.json'), 'utf8')) as {
      $schema?: string;
    };
    // It names draft-07 by an https URL Ajv does not alias; Ajv's default dialect is draft-07.
    delete schema.$schema;
    const validate = new Ajv({ strict: false, allErrors: true, validateFormats: false }).compile(schema);
    for (const file of ['docker-compose.yml', 'docker-compose.demo.yml']) {
      // Anchors and `<<` merge keys resolved, as Compose's YAML loader resolves them.
      assert.ok(validate(read(file)), `${file}: ${JSON.stringify(validate.errors, null, 1)}`);
    }
  });

  test('when the stack is described, then Temporal runs from its server image on PostgreSQL with a schema job, and no deprecated image is named', () => {
    for (const name of ['postgresql', 'temporal-schema', 'temporal', 'temporal-namespace', 'temporal-ui'])
      assert.ok(services[name], name);
    assert.match(services.temporal?.image ?? '', /^temporalio\/server:\d+\.\d+\.\d+$/);
    assert.equal(services.temporal?.environment?.DB, 'postgres12');
    assert.equal(
      services.temporal?.depends_on?.['temporal-schema']?.condition,
      'service_completed_successfully',
    );
    assert.match(JSON.stringify(services['temporal-schema']?.command), /temporal-sql-tool .*update-schema/);
    for (const [name, service] of Object.entries({ ...services, ...demo.services })) {
      assert.doesNotMatch(
        service.image ?? '',
        /temporalio\/auto-setup|tctl/,
        `${name} names no deprecated image`,
      );
    }
  });

  test('when a service names an image, then it is pinned to a version, never latest', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build) continue;
      assert.match(service.image ?? '', /^[\w./-]+:\d+(\.\d+)+$/, `${name} image is pinned to a version`);
    }
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    // The image runs the Node that CI tests the whole suite on.
    const ci = /^NODE_LTS_VERSION=(\S+)$/m.exec(readFileSync(path.join(ROOT, '.ci/run'), 'utf8'))?.[1];
    for (const from of dockerfile.matchAll(/^FROM (\S+)/gm))
      assert.equal(/^node:(\d+\.\d+\.\d+)-/.exec(from[1]!)?.[1], ci, `${from[1]} is the Node CI tests`);
  });

  test('when the namespace is created, then it is the configured TEMPORAL_NAMESPACE with at least 30 days of retention, and every part uses it', () => {
    const job = services['temporal-namespace']!;
    const retention = defaultOf(job.environment?.TEMPORAL_RETENTION) ?? '';
    assert.match(retention, /^\d+d$/);
    assert.ok(Number.parseInt(retention, 10) >= 30, `retention ${retention}`);
    const script = ([] as string[]).concat(job.command ?? []).join('\n');
    assert.match(script, /namespace create -n "\$\$TEMPORAL_NAMESPACE" --retention "\$\$TEMPORAL_RETENTION"/);
    assert.match(script, /namespace update -n "\$\$TEMPORAL_NAMESPACE" --retention/);
    for (const key of Object.values(SA))
      assert.ok(script.includes(key.name), `the namespace job registers ${key.name}`);
    const namespaceOf = (s: Service | undefined, key = 'TEMPORAL_NAMESPACE') => s?.environment?.[key];
    const expected = namespaceOf(job);
    for (const name of APP_SERVICES) assert.equal(namespaceOf(services[name]), expected, `${name} namespace`);
    assert.equal(namespaceOf(services['temporal-ui'], 'TEMPORAL_DEFAULT_NAMESPACE'), expected);
    for (const name of ['worker', 'bot'])
      assert.equal(
        services[name]?.depends_on?.['temporal-namespace']?.condition,
        'service_completed_successfully',
      );
  });

  test('when ports are published, then only the bot listens beyond loopback, and the UI and the codec server are on loopback', () => {
    for (const [name, service] of Object.entries({ ...services, ...demo.services })) {
      for (const port of service.ports ?? []) {
        if (name === 'bot') continue;
        assert.match(port, /^127\.0\.0\.1:/, `${name} publishes ${port} on loopback only`);
      }
    }
    assert.deepEqual(services.bot?.ports, [
      `${services.bot?.environment?.CMK_BOT_PORT}:${services.bot?.environment?.CMK_BOT_PORT}`,
    ]);
    assert.equal(services.temporal?.ports, undefined, 'the Temporal frontend is not published');
    assert.equal(services.postgresql?.ports, undefined);
    const ui = new URL(defaultOf(services.worker?.environment?.CMK_TEMPORAL_UI_URL) ?? '');
    assert.ok(
      services['temporal-ui']?.ports?.includes(`127.0.0.1:${ui.port}:8080`),
      'UI links point at the UI',
    );
    assert.equal(services['temporal-ui']?.environment?.TEMPORAL_DISABLE_WRITE_ACTIONS, 'true');
    const codec = String(services['temporal-ui']?.environment?.TEMPORAL_CODEC_ENDPOINT);
    assert.match(
      codec,
      /^http:\/\/localhost:8089\/\$\{CMK_CODEC_SERVER_TOKEN/,
      'the UI decodes through the codec server',
    );
    assert.ok(services['codec-server']?.ports?.includes('127.0.0.1:8089:8089'));
  });

  test('when services run until stopped, then each has a healthcheck, a stop grace period and a restart policy; production services mount no emulator volume', () => {
    for (const name of LONG_RUNNING) {
      const service = services[name]!;
      assert.ok(service.healthcheck?.test.length, `${name} has a healthcheck`);
      assert.match(service.stop_grace_period ?? '', /^\d+s$/, `${name} has a stop grace period`);
      assert.equal(service.restart, 'unless-stopped', `${name} restarts`);
    }
    for (const name of APP_SERVICES)
      assert.equal(services[name]?.volumes, undefined, `${name} mounts nothing`);
    assert.deepEqual(Object.keys(compose.volumes ?? {}), ['postgres-data']);
    assert.match(JSON.stringify(services.worker?.healthcheck), /\/readyz/);
  });

  /** The dynamic config file Temporal's container reads, checked to be mounted read-only. */
  const temporalDynamicConfig = (): Record<string, { value: unknown; constraints?: unknown }[]> => {
    const temporal = services.temporal!;
    const target = String(temporal.environment?.DYNAMIC_CONFIG_FILE_PATH ?? '');
    const mount = temporal.volumes?.find((v) => v.split(':')[1] === target);
    assert.ok(mount, `the file DYNAMIC_CONFIG_FILE_PATH names (${target}) is mounted`);
    assert.match(mount, /:ro$/, 'read-only');
    return read(mount.split(':')[0]!.replace(/^\.\//, '')) as Record<
      string,
      { value: unknown; constraints?: unknown }[]
    >;
  };

  test("when Temporal runs, then its dynamic config keeps every task queue in one partition, because the server splits a queue's rate over its partitions (ARM's write budget would be dispatched below its rate)", () => {
    const config = temporalDynamicConfig();
    for (const key of ['matching.numTaskqueueReadPartitions', 'matching.numTaskqueueWritePartitions'])
      assert.deepEqual(config[key], [{ value: 1 }], `${key}: 1 for every queue`);
  });

  test("when Temporal runs, then its dynamic config turns eager activity dispatch on, as the project's dev server does (a run's activities on its own queue skip matching and a poll)", () => {
    assert.deepEqual(temporalDynamicConfig()['system.enableActivityEagerExecution'], [{ value: true }]);
    const devServer = readFileSync(path.join(ROOT, 'scripts', 'temporal-dev-server.ts'), 'utf8');
    assert.match(devServer, /'system\.enableActivityEagerExecution=true'/);
  });

  test("when the worker runs in its container, then V8's heap limit fits in the container's memory with room for native memory", () => {
    const limit = services.worker?.deploy?.resources?.limits?.memory ?? '';
    const match = /^(\d+)([mg])$/.exec(limit);
    assert.ok(match, `the worker has a memory limit: ${limit}`);
    const limitMiB = Number(match[1]) * (match[2] === 'g' ? 1024 : 1);
    const heap = deployedWorkerHeapMiB();
    // Native memory beside the heap (Temporal's Core, code, buffers) measured ~300 MiB (P3).
    assert.ok(heap + 300 <= limitMiB, `heap ${heap} MiB + 300 MiB native <= ${limitMiB} MiB`);
  });

  test('when the image is built, then the build context leaves out local state, keys and secrets', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.data', '.env', '.git', 'node_modules', '*.pem', '*.key'])
      assert.ok(ignored.includes(entry), `.dockerignore lists ${entry}`);
  });

  test('when the app services get environment keys, then every key is one the config module reads', () => {
    for (const name of [...APP_SERVICES, 'local-azure']) {
      const environment = { ...services[name]?.environment, ...demo.services[name]?.environment };
      for (const key of Object.keys(environment)) {
        assert.ok(
          key in CONFIG_KEYS || LOCAL_AZURE_KEYS.includes(key) || NODE_KEYS.includes(key),
          `${name}: ${key} is read by src/config.ts`,
        );
      }
    }
    assert.equal(defaultOf(services.worker?.environment?.TEMPORAL_ADDRESS), 'temporal:7233');
  });

  test('when .env.example is read, then it documents every configuration key', () => {
    const example = readFileSync(path.join(ROOT, '.env.example'), 'utf8');
    for (const key of Object.keys(CONFIG_KEYS)) {
      assert.match(example, new RegExp(`^#? ?${key}=`, 'm'), `.env.example documents ${key}`);
    }
  });

  test('when services depend on others, then those exist', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const dependency of Object.keys(service.depends_on ?? {})) {
        assert.ok(services[dependency], `${name} depends on existing ${dependency}`);
      }
    }
  });

  test('when the worker starts in its container, then it preloads workflow-threads.cjs, which the image holds', () => {
    const preload = ['--require', './workflow-threads.cjs'];
    const command = services.worker?.command;
    assert.ok(Array.isArray(command), 'the worker has an exec-form command');
    assert.deepEqual(command.slice(1, 3), preload, `compose: ${command.join(' ')}`);
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? '[]') as string[];
    assert.deepEqual(cmd.slice(1, 3), preload, `Dockerfile: ${cmd.join(' ')}`);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    assert.match(
      runtime,
      /COPY --from=build \/app\/workflow-threads\.cjs \.\//,
      'the runtime stage holds it',
    );
    const scripts = (
      JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    assert.match(scripts.worker ?? '', /^node --require \.\/workflow-threads\.cjs /, 'npm run worker');
  });

  test('when a built service runs dist/<file>.js, then the build compiles that entry point from a source file', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /RUN npm run build/);
    for (const [name, service] of Object.entries({ ...services, ...demo.services })) {
      if (!service.build) continue;
      const command = service.command;
      assert.ok(Array.isArray(command), `${name} has an exec-form command`);
      const entry = command.find((part) => part.startsWith('dist/')) ?? '';
      const source = entry.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      assert.ok(existsSync(path.join(ROOT, source)), `${name}: ${source} exists`);
      const copied = source.split('/')[0] ?? '';
      assert.match(
        dockerfile,
        new RegExp(`COPY ${copied.replace('.', '\\.')}`),
        `Dockerfile copies ${copied}`,
      );
    }
  });
});
