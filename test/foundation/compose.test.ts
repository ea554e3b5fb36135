import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { CONFIG_KEYS } from '../../src/config';
import { SA } from '../../src/shared/runbooks';

const ROOT = path.resolve(__dirname, '../..');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  environment?: Record<string, string | number>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
  profiles?: string[];
}

const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
};
const services = compose.services;
const APP_SERVICES = ['worker', 'bot', 'local-azure'];
const LOCAL_AZURE_KEYS = ['LOCAL_AZURE_PORT', 'LOCAL_AZURE_HOST'];

/** `${KEY:-default}` → default; a plain value → itself. */
function defaultOf(value: string | number | undefined): string | undefined {
  if (value === undefined) return undefined;
  const match = /^\$\{\w+:?-(.*)\}$/.exec(String(value));
  return match ? match[1] : String(value);
}

describe('docker-compose.yml (validated statically; no engine runs here)', () => {
  test('when the stack is described, then it has Temporal on PostgreSQL, the UI, the worker and the bot', () => {
    for (const name of ['postgresql', 'temporal', 'temporal-ui', 'worker', 'bot'])
      assert.ok(services[name], name);
    assert.equal(services.temporal?.environment?.DB, 'postgres12');
    assert.equal(services.temporal?.environment?.POSTGRES_SEEDS, 'postgresql');
    assert.equal(services['temporal-ui']?.environment?.TEMPORAL_ADDRESS, 'temporal:7233');
  });

  test('when a service names an image, then it is pinned to a version, never latest', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build) continue;
      assert.match(service.image ?? '', /^[\w./-]+:[\w.-]+$/, `${name} image is pinned`);
      assert.doesNotMatch(service.image ?? '', /:latest$/, `${name} avoids :latest`);
    }
  });

  test('when the worker, bot and local Azure get environment keys, then every key is one the config module reads', () => {
    for (const name of APP_SERVICES) {
      for (const key of Object.keys(services[name]?.environment ?? {})) {
        assert.ok(
          key in CONFIG_KEYS || LOCAL_AZURE_KEYS.includes(key),
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

  test('when ports are published, then no host port is used twice and each matches its configuration', () => {
    const hostPorts = Object.values(services).flatMap((s) => (s.ports ?? []).map((p) => p.split(':')[0]));
    assert.equal(new Set(hostPorts).size, hostPorts.length, `host ports are unique: ${hostPorts.join(', ')}`);
    assert.ok(
      services.bot?.ports?.includes(
        `${services.bot.environment?.CMK_BOT_PORT}:${services.bot.environment?.CMK_BOT_PORT}`,
      ),
    );
    assert.ok(services.temporal?.ports?.includes('7233:7233'));
    const ui = new URL(defaultOf(services.worker?.environment?.CMK_TEMPORAL_UI_URL) ?? '');
    assert.ok(
      services['temporal-ui']?.ports?.includes(`${ui.port}:8080`),
      'UI links point at the published UI port',
    );
  });

  test('when services depend on others, then those exist and the app waits for the search attributes', () => {
    for (const [name, service] of Object.entries(services)) {
      for (const dependency of Object.keys(service.depends_on ?? {})) {
        assert.ok(services[dependency], `${name} depends on existing ${dependency}`);
      }
    }
    assert.equal(
      services.worker?.depends_on?.['temporal-setup']?.condition,
      'service_completed_successfully',
    );
    const setup = JSON.stringify(services['temporal-setup']?.command);
    for (const key of Object.values(SA))
      assert.ok(setup.includes(key.name), `temporal-setup registers ${key.name}`);
    for (const name of ['postgresql', 'temporal', 'bot'])
      assert.ok(services[name]?.healthcheck, `${name} has a health check`);
  });

  test('when a built service runs dist/<file>.js, then the build compiles that entry point from a source file', () => {
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    assert.match(dockerfile, /RUN npm run build/);
    for (const name of APP_SERVICES) {
      const command = services[name]?.command;
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
