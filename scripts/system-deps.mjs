// Installs the system services the tests start (redis-server, nats-server, PostgreSQL, coturn, Chromium) when
// they are missing and we may use apt-get (root). Tests start their own instances on free ports.
import { execSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const hasPostgres = () => existsSync('/usr/lib/postgresql') && execSync('ls /usr/lib/postgresql').toString().trim().length > 0;

export function ensureSystemDeps() {
  const missing = [];
  if (!has('redis-server')) missing.push('redis-server');
  if (!has('redis-cli')) missing.push('redis-tools'); // Redis Cluster tests: redis-cli --cluster create
  if (!has('nats-server')) missing.push('nats-server');
  if (!hasPostgres()) missing.push('postgresql');
  if (!has('turnserver')) missing.push('coturn');
  if (!has('chromium')) missing.push('chromium');
  if (!has('janus')) missing.push('janus');
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !has('apt-get')) {
    console.error(`missing system packages: ${missing.join(' ')} (install them with apt-get)`);
    process.exit(1);
  }
  console.error(`installing ${missing.join(' ')} ...`);
  execSync('apt-get update -qq', { stdio: 'inherit' });
  execSync(`DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${missing.join(' ')}`, { stdio: 'inherit' });
}

if (import.meta.url === `file://${process.argv[1]}`) ensureSystemDeps();
