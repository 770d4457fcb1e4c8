#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { Authenticator, parseDurationSec } from './auth/auth.js';
import { parseGrantArg, type Permission } from './auth/grants.js';
import { ConfigError, loadConfig } from './config.js';
import { validatedConfig } from './server.js';
import { createServer } from './node.js';

const USAGE = `Usage:
  aqueduct serve [--port N] [--host H] [--data-dir DIR] [--config FILE] [--demo | --no-demo]
                 [--redis-url URL] [--database-url URL] [--log-level LEVEL] [--set key.path=value ...]
  aqueduct token --sub USER --room 'PATTERN=perm,perm' [--room ...] [--ttl 1h] [--info JSON]
                 [--data-dir DIR] [--config FILE]
  aqueduct --help | aqueduct serve --help | aqueduct token --help

serve runs a node until SIGTERM/SIGINT (then /readyz answers 503 for shutdown.readyzGraceMs before
connections close). token prints a JWT signed with the server's secret (AQUEDUCT_JWT_SECRET, or the
development secret generated in the data dir).
Permissions: sub, pub, presence, signal. Patterns: an exact room name or a prefix ending in '*'.
Environment: PORT, HOST, AQUEDUCT_* (see README §Configuration).`;

const HELP = new Set(['--help', '-h', 'help']);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // `aqueduct --help`, `aqueduct serve --help`, `aqueduct token -h`: usage on stdout, exit 0.
  if (command === undefined || HELP.has(command) || rest.some((a) => a === '--help' || a === '-h')) {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined || HELP.has(command) || command === 'serve' || command === 'token' ? 0 : 2;
  }
  if (command === 'serve') return serve(rest);
  if (command === 'token') return token(rest);
  process.stderr.write(`aqueduct: unknown command "${command}"\n${USAGE}\n`);
  return 2;
}

type Options = NonNullable<NonNullable<Parameters<typeof parseArgs>[0]>['options']>;
type Values = Record<string, string | boolean | string[] | undefined>;

function common(args: string[], extra: Options = {}): { values: Values } {
  return parseArgs({
    args,
    strict: true,
    options: {
      config: { type: 'string' },
      'data-dir': { type: 'string' },
      set: { type: 'string', multiple: true },
      ...extra,
    },
  }) as { values: Values };
}

async function serve(args: string[]): Promise<number> {
  const { values } = common(args, {
    port: { type: 'string' },
    host: { type: 'string' },
    demo: { type: 'boolean' },
    'no-demo': { type: 'boolean' },
    'redis-url': { type: 'string' },
    'database-url': { type: 'string' },
    'log-level': { type: 'string' },
  });
  const overrides: Record<string, unknown> = {};
  if (values.port !== undefined) overrides.port = Number(values.port);
  if (values.host !== undefined) overrides.host = values.host;
  if (values['data-dir'] !== undefined) overrides.dataDir = values['data-dir'];
  if (values['redis-url'] !== undefined) overrides.redisUrl = values['redis-url'];
  if (values['database-url'] !== undefined) overrides.databaseUrl = values['database-url'];
  if (values['log-level'] !== undefined) overrides.logLevel = values['log-level'];
  if (values.demo) overrides.demo = true;
  if (values['no-demo']) overrides.demo = false;
  const config = validatedConfig(loadConfig({ file: values.config as string | undefined, overrides, sets: values.set as string[] | undefined }));
  const server = await createServer({ config });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.logger.info({ signal, readyzGraceMs: server.readyzGraceMs }, 'shutting down');
    // The drain delay (shutdown.readyzGraceMs) plus 15 s for closing connections and flushing.
    const force = setTimeout(() => process.exit(1), server.readyzGraceMs + 15_000);
    force.unref();
    server.close().then(() => process.exit(0), (err: unknown) => {
      server.logger.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  return new Promise(() => undefined);
}

async function token(args: string[]): Promise<number> {
  const { values } = common(args, {
    sub: { type: 'string' },
    room: { type: 'string', multiple: true },
    ttl: { type: 'string' },
    info: { type: 'string' },
  });
  if (typeof values.sub !== 'string' || values.sub.length === 0) throw new ConfigError('--sub is required');
  const rooms: Record<string, Permission[]> = {};
  for (const r of (values.room as string[] | undefined) ?? []) {
    const [pattern, perms] = parseGrantArg(r);
    rooms[pattern] = perms;
  }
  let info: Record<string, unknown> | undefined;
  if (typeof values.info === 'string') {
    try { info = JSON.parse(values.info) as Record<string, unknown>; } catch { throw new ConfigError('--info must be a JSON object'); }
  }
  const overrides: Record<string, unknown> = {};
  if (values['data-dir'] !== undefined) overrides.dataDir = values['data-dir'];
  const config = loadConfig({ file: values.config as string | undefined, overrides, sets: values.set as string[] | undefined });
  const auth = new Authenticator(config.jwt, { dataDir: config.dataDir });
  const jwt = await auth.sign({ sub: values.sub, rooms, info, ttlSec: parseDurationSec((values.ttl as string | undefined) ?? '1h') });
  process.stdout.write(`${jwt}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => { if (code !== undefined) process.exitCode = code; },
  (err: unknown) => {
    const e = err as Error & { code?: string };
    if (e instanceof ConfigError || e.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`aqueduct: ${e.message}\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`aqueduct: ${e.stack ?? e.message}\n`);
      process.exitCode = 1;
    }
  },
);
