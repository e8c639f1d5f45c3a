import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ENV } from '@tessera/contract';
import { SettingsError, loadSettings } from '../../../server/src/config.js';

describe('loadSettings', () => {
  let folder: string;

  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'tessera-settings-'));
  });
  afterEach(async () => {
    await rm(folder, { recursive: true, force: true });
  });

  it('uses MLServer-compatible defaults', () => {
    const s = loadSettings({}, { folder });
    assert.equal(s.http_port, 8080);
    assert.equal(s.grpc_port, 8081);
    assert.equal(s.metrics_port, 8082);
    assert.equal(s.metrics_endpoint, '/metrics');
    assert.equal(s.load_models_at_startup, true);
    assert.equal(s.model_repository_root, folder);
    assert.equal(s.tracing_server, null);
  });

  it('bounds the work of one request by default and lets the bounds be set', () => {
    const d = loadSettings({}, { folder });
    assert.equal(d.max_request_elements, 16 * 1024 * 1024);
    assert.equal(d.max_response_bytes, 64 * 1024 * 1024);
    const s = loadSettings(
      { TESSERA_MAX_REQUEST_ELEMENTS: '1000', TESSERA_MAX_RESPONSE_BYTES: '4096' },
      { folder },
    );
    assert.equal(s.max_request_elements, 1000);
    assert.equal(s.max_response_bytes, 4096);
    assert.throws(
      () => loadSettings({ TESSERA_MAX_REQUEST_ELEMENTS: '0' }, { folder }),
      /invalid setting max_request_elements \(from environment variable TESSERA_MAX_REQUEST_ELEMENTS\)/,
    );
  });

  it('reads settings.json, then MLSERVER_*, then TESSERA_*, then flags', async () => {
    await writeFile(
      join(folder, 'settings.json'),
      JSON.stringify({ http_port: 9000, grpc_port: 9001, debug: 'true', parallel_workers: 4 }),
    );
    const s = loadSettings(
      { MLSERVER_GRPC_PORT: '9101', MLSERVER_METRICS_PORT: '9102', TESSERA_METRICS_PORT: '9202' },
      { folder, values: { host: '127.0.0.1' } },
    );
    assert.equal(s.http_port, 9000);
    assert.equal(s.grpc_port, 9101);
    assert.equal(s.metrics_port, 9202);
    assert.equal(s.host, '127.0.0.1');
    assert.equal(s.debug, true, 'string booleans are accepted, as in MLServer docs');
  });

  it("reads MLSERVER_ENV_TARBALL and environments_dir relative to the server's folder", () => {
    const d = loadSettings({}, { folder });
    assert.equal(d.env_tarball, null);
    assert.equal(d.environments_dir, join(tmpdir(), 'tessera-environments'));
    assert.equal(d.environment_max_bytes, 20 * 1024 ** 3);
    assert.equal(d.environment_max_entries, 500_000);
    const s = loadSettings(
      {
        MLSERVER_ENV_TARBALL: 'envs/old-sklearn.tar.gz',
        TESSERA_ENVIRONMENTS_DIR: 'unpacked',
        TESSERA_ENVIRONMENT_MAX_BYTES: '1000',
      },
      { folder },
    );
    assert.equal(s.env_tarball, join(folder, 'envs', 'old-sklearn.tar.gz'));
    assert.equal(s.environments_dir, join(folder, 'unpacked'));
    assert.equal(s.environment_max_bytes, 1000);
  });

  it('parses "false" as false (never z.coerce.boolean)', () => {
    assert.equal(
      loadSettings({ MLSERVER_LOAD_MODELS_AT_STARTUP: 'false' }, { folder }).load_models_at_startup,
      false,
    );
  });

  it('parses structured values from JSON in environment variables', () => {
    const s = loadSettings(
      {
        TESSERA_CORS_SETTINGS: '{"allow_origins":["https://a.example"]}',
        TESSERA_EXTENSIONS: '["x"]',
      },
      { folder },
    );
    assert.deepEqual(s.cors_settings?.allow_origins, ['https://a.example']);
    assert.equal(s.cors_settings?.max_age, 600);
    assert.deepEqual(s.extensions, ['x']);
  });

  it('names the source, the field and the reason of a bad value', async () => {
    await writeFile(join(folder, 'settings.json'), JSON.stringify({ http_port: 'eighty' }));
    assert.throws(
      () => loadSettings({}, { folder }),
      (e: unknown) => {
        assert.ok(e instanceof SettingsError);
        assert.match(
          e.message,
          /^invalid setting http_port \(from settings\.json\): .*expected number, received string/,
        );
        return true;
      },
    );
    await rm(join(folder, 'settings.json'));
    assert.throws(
      () => loadSettings({ TESSERA_GRPC_PORT: '70000' }, { folder }),
      /invalid setting grpc_port \(from environment variable TESSERA_GRPC_PORT\)/,
    );
    assert.throws(
      () => loadSettings({ MLSERVER_ROOT_PATH: 'no-slash' }, { folder }),
      /root_path \(from environment variable MLSERVER_ROOT_PATH\)/,
    );
  });

  it('rejects a settings.json that is not JSON, and a missing repository folder', async () => {
    await writeFile(join(folder, 'settings.json'), '{ nope');
    assert.throws(() => loadSettings({}, { folder }), /settings\.json is not valid JSON/);
    await writeFile(join(folder, 'settings.json'), '{}');
    assert.throws(
      () => loadSettings({ TESSERA_MODEL_REPOSITORY_ROOT: 'missing' }, { folder }),
      /model_repository_root .*folder does not exist/,
    );
  });
  it('reads required_models and the admin port from the pod-contract variables', () => {
    const defaults = loadSettings({}, { folder });
    assert.deepEqual(defaults.required_models, []);
    assert.equal(defaults.admin_port, null);
    assert.equal(defaults.admin_host, '127.0.0.1');
    const s = loadSettings(
      {
        [ENV.requiredModels]: '["iris","simple"]',
        [ENV.adminPort]: '8085',
        [ENV.adminHost]: '127.0.0.5',
      },
      { folder },
    );
    assert.deepEqual(s.required_models, ['iris', 'simple']);
    assert.equal(s.admin_port, 8085);
    assert.equal(s.admin_host, '127.0.0.5');
  });

  it('rejects a required model whose name could address a file', () => {
    assert.throws(
      () => loadSettings({ [ENV.requiredModels]: '["../etc"]' }, { folder }),
      /required_models\.0 \(from environment variable TESSERA_REQUIRED_MODELS\)/,
    );
  });
});
