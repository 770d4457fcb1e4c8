// The container files, checked without Docker (it is not available on every machine): the Dockerfile
// is multi-stage, runs as a non-root user, has a health check on a real route, exposes 8787, keeps
// data on a volume, copies only files that exist and are not .dockerignored, and starts the bin the
// packed @aqueduct/server installs; compose.yaml parses, runs 2 Aqueduct nodes with Redis,
// PostgreSQL and coturn, and the environment it gives each node is a valid server configuration.
// Building the image needs a Docker daemon and a registry for the base image, so it is not a test:
// `docker build -t aqueduct .` (README §Container).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { REPO_ROOT } from '@aqueduct/testkit';
import { configFromEnv, parseConfig } from '../src/config.js';

interface Instruction { op: string; args: string; stage: number }

/** Dockerfile instructions (continuation lines joined, comments dropped), each with its stage index. */
function dockerfile(): Instruction[] {
  const text = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
  const joined = text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n').replace(/\\\n/g, ' ');
  let stage = -1;
  const out: Instruction[] = [];
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const op = m[1].toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, args: m[2].trim(), stage });
  }
  return out;
}

/** Whether `path` (relative to the build context) is excluded by a .dockerignore pattern (the patterns used here). */
function dockerIgnored(path: string): boolean {
  const patterns = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  return patterns.some((p) => {
    const body = p.replace(/[.+^${}()|[\]\\]/g, '\\$&').split('**/').map((part) => part.replace(/\*/g, '[^/]*')).join('(?:.*/)?');
    const re = new RegExp(`^${body}(?:/.*)?$`);
    return re.test(path.replace(/\/$/, ''));
  });
}

/** Replaces `${VAR}`, `${VAR:-default}`, `${VAR:?message}` as docker compose does, from `vars`. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (_m, name: string, kind: string | undefined, rest: string) => {
    const v = vars[name];
    if (v !== undefined && v !== '') return v;
    if (kind?.endsWith('?')) throw new Error(`compose needs ${name}: ${rest}`);
    return kind?.endsWith('-') ? rest : '';
  });
}

describe('container: Dockerfile and compose.yaml', () => {
  test('Dockerfile: multi-stage, non-root, HEALTHCHECK on /healthz, EXPOSE 8787, /data volume, the packed bin', () => {
    const ins = dockerfile();
    const stages = Math.max(...ins.map((i) => i.stage)) + 1;
    assert.ok(stages >= 2, `multi-stage (${stages} stages)`);
    const last = ins.filter((i) => i.stage === stages - 1);
    const user = last.filter((i) => i.op === 'USER').pop();
    assert.ok(user && !/^(root|0)(:|$)/.test(user.args), `the runtime stage runs as a non-root user (USER ${user?.args})`);
    const health = last.find((i) => i.op === 'HEALTHCHECK');
    assert.ok(health, 'HEALTHCHECK in the runtime stage');
    assert.match(health.args, /\/(healthz|readyz)/);
    assert.ok(last.some((i) => i.op === 'EXPOSE' && /\b8787\b/.test(i.args)), 'EXPOSE 8787');
    assert.ok(last.some((i) => i.op === 'VOLUME' && i.args.includes('/data')), 'VOLUME /data');
    const env = last.filter((i) => i.op === 'ENV').map((i) => i.args).join(' ');
    assert.match(env, /AQUEDUCT_DATA_DIR=\/data/);
    assert.match(env, /HOST=0\.0\.0\.0/, 'listens on every interface inside the container');
    const entry = last.find((i) => i.op === 'ENTRYPOINT');
    assert.ok(entry, 'ENTRYPOINT');
    const bin = (JSON.parse(readFileSync(join(REPO_ROOT, 'packages/server/package.json'), 'utf8')) as { bin: Record<string, string> }).bin.aqueduct;
    assert.ok(entry.args.includes(`/app/node_modules/@aqueduct/server/${bin.replace(/^\.\//, '')}`), `ENTRYPOINT runs the package bin (${bin}): ${entry.args}`);
    // The packed packages are what the image installs (same path as the pack-install test).
    assert.ok(ins.some((i) => i.op === 'RUN' && /npm pack\b.*-w packages\/server/.test(i.args)), 'the build stage packs @aqueduct/server');
    assert.ok(ins.some((i) => i.op === 'RUN' && /npm ci\b/.test(i.args)), 'npm ci');
  });

  test('Dockerfile: every COPY source from the build context exists and is not .dockerignored', () => {
    const copies = dockerfile().filter((i) => i.op === 'COPY' && !/--from=/.test(i.args));
    assert.ok(copies.length > 0);
    for (const c of copies) {
      const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) {
        assert.ok(existsSync(join(REPO_ROOT, src)), `COPY ${src}: exists`);
        assert.ok(!dockerIgnored(src), `COPY ${src}: not excluded by .dockerignore`);
      }
    }
    for (const ignored of ['node_modules', 'packages/server/node_modules', 'packages/server/dist', '.git']) assert.ok(dockerIgnored(ignored), `${ignored} is not sent to the daemon`);
    assert.ok(!dockerIgnored('packages/server/src/cli.ts'));
  });

  test('compose.yaml: 2 Aqueduct nodes + Redis + PostgreSQL + coturn; each node\'s environment is a valid config sharing one secret', () => {
    const compose = parse(readFileSync(join(REPO_ROOT, 'compose.yaml'), 'utf8'), { merge: true }) as {
      services: Record<string, { build?: unknown; image?: string; environment?: Record<string, string>; ports?: string[]; volumes?: string[]; depends_on?: Record<string, unknown>; command?: string[] }>;
      volumes?: Record<string, unknown>;
    };
    const services = compose.services;
    const nodes = Object.entries(services).filter(([, s]) => s.build !== undefined);
    assert.equal(nodes.length, 2, 'two Aqueduct nodes built from the Dockerfile');
    assert.ok(Object.values(services).some((s) => s.image?.startsWith('redis')), 'Redis');
    assert.ok(Object.values(services).some((s) => s.image?.startsWith('postgres')), 'PostgreSQL');
    const coturn = Object.values(services).find((s) => s.image?.startsWith('coturn'));
    assert.ok(coturn, 'coturn');

    const vars = { POSTGRES_PASSWORD: 'pw', AQUEDUCT_JWT_SECRET: 'jwt-secret-0123456789abcdef', AQUEDUCT_API_KEY: 'api-key-0123456789abcdef', TURN_SECRET: 'turn-secret' };
    assert.throws(() => interpolate(String(nodes[0][1].environment?.AQUEDUCT_JWT_SECRET), {}), /AQUEDUCT_JWT_SECRET/, 'the JWT secret is required, no default');
    const hostPorts = new Set<string>();
    const ids = new Set<string>();
    for (const [name, node] of nodes) {
      const env = Object.fromEntries(Object.entries(node.environment ?? {}).map(([k, v]) => [k, interpolate(String(v), vars)]));
      const config = parseConfig(configFromEnv(env));
      assert.equal(config.host, '0.0.0.0', name);
      assert.equal(config.port, 8787, name);
      assert.equal(config.dataDir, '/data', name);
      assert.equal(config.redisUrl, 'redis://redis:6379', name);
      assert.equal(config.databaseUrl, 'postgres://aqueduct:pw@postgres:5432/aqueduct', name);
      assert.equal(config.jwt.secret, vars.AQUEDUCT_JWT_SECRET, `${name}: the shared secret`);
      assert.equal(config.turn.secret, vars.TURN_SECRET, `${name}: coturn's static-auth-secret`);
      assert.ok(config.turn.urls.length > 0, `${name}: TURN URLs`);
      assert.ok(config.nodeId && !ids.has(config.nodeId), `${name}: its own node id`);
      ids.add(config.nodeId!);
      const unknown = Object.keys(env).filter((k) => !['HOST', 'PORT', 'REDIS_URL', 'DATABASE_URL'].includes(k) && !k.startsWith('AQUEDUCT_'));
      assert.deepEqual(unknown, [], `${name}: only variables the server reads`);
      for (const p of node.ports ?? []) hostPorts.add(p.split(':')[0]);
      assert.ok(node.volumes?.some((v) => v.endsWith(':/data')), `${name}: data volume`);
      assert.ok(node.depends_on && 'redis' in node.depends_on && 'postgres' in node.depends_on, `${name}: waits for Redis and PostgreSQL`);
    }
    assert.equal(hostPorts.size, 2, 'each node on its own host port');
    assert.ok(coturn.command?.some((a) => a === '--use-auth-secret'), 'coturn uses shared-secret credentials');
    assert.ok(coturn.command?.some((a) => a.startsWith('--static-auth-secret=${TURN_SECRET')), 'coturn and Aqueduct share TURN_SECRET');
    for (const v of Object.values(services).flatMap((s) => s.volumes ?? [])) {
      const named = v.split(':')[0];
      if (!named.startsWith('.') && !named.startsWith('/')) assert.ok(compose.volumes && named in compose.volumes, `volume ${named} is declared`);
    }
  });
});
