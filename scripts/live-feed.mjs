#!/usr/bin/env node
// Feeds the live-stream room app's leaderboard and stock counter: every --interval-ms it posts a
// whole snapshot (event "board") to the room `demo:live-<room>:board` with the HTTP publish API
// (`POST /api/publish`, the server API key). Viewers receive it over Server-Sent Events.
//
//   node scripts/live-feed.mjs [--url http://localhost:8787] [--room main] [--key KEY]
//                              [--count 0] [--interval-ms 1000] [--stock 500]
//
// The key: --key, else $AQUEDUCT_API_KEY, else the file demo mode generates (<data dir>/api-key,
// --data-dir or $AQUEDUCT_DATA_DIR, default ./data). --count 0 runs until Ctrl-C.
// Each snapshot carries an idempotency key (this run's id and its sequence number), so the bounded
// retries after a network error or a 5xx (at most --retries, backoff up to 5 s) publish it once.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const USAGE = 'usage: node scripts/live-feed.mjs [--url URL] [--room SLUG] [--key KEY] [--data-dir DIR] [--count N] [--interval-ms MS] [--stock N] [--retries N] [--quiet]';
let parsed;
try {
  parsed = parseArgs({
    options: {
      url: { type: 'string', default: process.env.AQUEDUCT_URL ?? 'http://localhost:8787' },
      room: { type: 'string', default: 'main' },
      key: { type: 'string' },
      'data-dir': { type: 'string', default: process.env.AQUEDUCT_DATA_DIR ?? './data' },
      count: { type: 'string', default: '0' },
      'interval-ms': { type: 'string', default: '1000' },
      stock: { type: 'string', default: '500' },
      retries: { type: 'string', default: '5' },
      quiet: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
} catch (err) {
  console.error(`live-feed: ${err.message}\n${USAGE}`);
  process.exit(2);
}
const opts = parsed.values;

if (opts.help) {
  console.log(USAGE);
  process.exit(0);
}

function intOpt(name, min) {
  const n = Number(opts[name]);
  if (!Number.isSafeInteger(n) || n < min) {
    console.error(`live-feed: --${name} must be an integer >= ${min}`);
    process.exit(2);
  }
  return n;
}

const count = intOpt('count', 0);
const intervalMs = intOpt('interval-ms', 0);
const retries = intOpt('retries', 0);
let stock = intOpt('stock', 0);
if (!/^[a-z0-9-]{1,40}$/.test(opts.room)) {
  console.error('live-feed: --room must be 1-40 lowercase letters, digits or dashes (the page\'s ?room=)');
  process.exit(2);
}
const room = `demo:live-${opts.room}:board`;

function apiKey() {
  if (opts.key) return opts.key;
  if (process.env.AQUEDUCT_API_KEY) return process.env.AQUEDUCT_API_KEY;
  const file = join(opts['data-dir'], 'api-key');
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    console.error(`live-feed: no API key (give --key, set AQUEDUCT_API_KEY, or run next to the data dir holding ${file})`);
    process.exit(2);
  }
}
const key = apiKey();

const SUPPORTERS = ['Amber Otter', 'Brisk Heron', 'Calm Lynx', 'Deft Wren', 'Eager Marten', 'Fleet Ibis', 'Gentle Newt', 'Hazel Finch'];
const scores = new Map(SUPPORTERS.map((n) => [n, 0]));
const runId = randomBytes(6).toString('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let stopping = false;
process.on('SIGINT', () => { stopping = true; });
process.on('SIGTERM', () => { stopping = true; });

function nextSnapshot(seq) {
  // A few supporters gift something each tick; each gift takes one item from the stock.
  for (let i = 0; i < 3; i++) {
    const name = SUPPORTERS[Math.floor(Math.random() * SUPPORTERS.length)];
    scores.set(name, scores.get(name) + 10 * (1 + Math.floor(Math.random() * 10)));
    if (stock > 0) stock--;
  }
  const leaders = [...scores].map(([name, score]) => ({ name, score })).sort((a, b) => b.score - a.score).slice(0, 5);
  return { seq, at: Date.now(), leaders, stock: { label: 'mugs left in stock', left: stock } };
}

async function publish(data) {
  const body = JSON.stringify({ room, event: 'board', data, idempotencyKey: `live-feed-${runId}-${data.seq}` });
  for (let attempt = 0; ; attempt++) {
    let res;
    try {
      res = await fetch(new URL('/api/publish', opts.url), { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${key}` }, body });
    } catch (err) {
      res = { ok: false, status: 0, statusText: err.message, json: async () => ({}) };
    }
    if (res.ok) return res.json();
    const detail = await res.json().catch(() => ({}));
    const message = `HTTP ${res.status} ${detail.error?.code ?? res.statusText ?? ''} ${detail.error?.message ?? ''}`.trim();
    const temporary = res.status === 0 || res.status === 429 || res.status >= 500;
    if (!temporary || attempt >= retries) throw new Error(message);
    const delay = Math.min(5000, 200 * 2 ** attempt);
    console.error(`live-feed: seq ${data.seq}: ${message}; retrying in ${delay} ms`);
    await sleep(delay);
  }
}

for (let seq = 1; (count === 0 || seq <= count) && !stopping; seq++) {
  const snapshot = nextSnapshot(seq);
  try {
    const pos = await publish(snapshot);
    if (!opts.quiet) console.log(`live-feed: seq ${seq} → ${room} offset ${pos.offset}${pos.duplicate ? ' (duplicate)' : ''}, stock ${snapshot.stock.left}`);
  } catch (err) {
    console.error(`live-feed: seq ${seq} failed: ${err.message}`);
    process.exit(1);
  }
  if (intervalMs > 0 && (count === 0 || seq < count)) await sleep(intervalMs);
}
