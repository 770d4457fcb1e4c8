/**
 * Cross-node fanout through each scale-out broker, in one run (issue 14): one Redis, three Redis
 * shards, a Redis Cluster of three masters, NATS JetStream. Three broker instances stand for three nodes, each with its own
 * connections: node P publishes, nodes S1 and S2 are subscribed to every room, so every
 * publication is two cross-node deliveries. Measures the broker layer only (no WebSocket, no
 * session): publish latency (call → acknowledged position), delivery latency (call → the other
 * node's handler), deliveries/s at a fixed number of publishes in flight.
 *
 * `npm run bench -- --only=crossnode [--seconds=10] [--rooms=100] [--inflight=200]`; prints JSON
 * and a Markdown table.
 */
import { startNats, startRedis, startRedisCluster, type NatsHandle, type RedisHandle } from '@aqueduct/testkit';
import type { Publication, Position } from '@aqueduct/protocol';
import type { Broker, BrokerHandler, ControlMessage, EphemeralMessage } from '../../packages/server/src/broker/broker.js';
import { RedisBroker } from '../../packages/server/src/broker/broker-redis.js';
import { ShardedRedisBroker } from '../../packages/server/src/broker/broker-redis-sharded.js';
import { NatsBroker } from '../../packages/server/src/broker/broker-nats.js';

function arg(name: string, def: number): number {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? Number(hit.slice(name.length + 3)) : def;
}

const SECONDS = arg('seconds', 10);
const ROOMS = arg('rooms', 100);
const INFLIGHT = arg('inflight', 200);
const OPTS = { historySize: 100, historyTtlMs: 60_000, idempotencyTtlMs: 60_000 };

interface Engine { name: string; make(): Broker; stop(): Promise<void> }

class Counter implements BrokerHandler {
  deliveries = 0;
  readonly latencies: number[] = [];
  constructor(private readonly sent: Map<string, number>) {}
  onPublication(room: string, pub: Publication): void {
    this.deliveries++;
    const t = this.sent.get(`${room}#${pub.offset}`);
    if (t !== undefined && this.latencies.length < 200_000) this.latencies.push(performance.now() - t);
  }
  onEphemeral(_room: string, _m: EphemeralMessage): void {}
  onReset(_room: string, _p: Position): void {}
  onControl(_m: ControlMessage): void {}
}

const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

async function measure(engine: Engine) {
  // Delivery latency is measured from the publish call; the publish start time is keyed by the
  // offset the broker assigns, known only after the ack, so the send time is kept per call.
  const sent = new Map<string, number>();
  const subs = [new Counter(sent), new Counter(sent)];
  const publisher = engine.make();
  const s1 = engine.make();
  const s2 = engine.make();
  await publisher.start(new Counter(new Map()));
  await s1.start(subs[0]);
  await s2.start(subs[1]);
  const rooms = Array.from({ length: ROOMS }, (_, i) => `bench:x${i}-${Date.now()}`);
  for (const r of rooms) { await s1.subscribe(r); await s2.subscribe(r); }
  const pubLat: number[] = [];
  let published = 0;
  let errors = 0;
  const pending = new Map<number, number>();
  let seq = 0;
  // Warm-up: one publish per room (streams and keys created).
  await Promise.all(rooms.map((r) => publisher.publish(r, { data: 0 }, OPTS)));
  // ...and delivered to both subscriber nodes before counting starts (else late warm-ups count).
  const warmEnd = performance.now() + 30_000;
  while (subs.some((s) => s.deliveries < ROOMS) && performance.now() < warmEnd) await new Promise((r) => setTimeout(r, 10));
  const base = subs.map((s) => s.deliveries);
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const room = rooms[seq++ % rooms.length];
      const start = performance.now();
      const id = seq;
      pending.set(id, start);
      try {
        const out = await publisher.publish(room, { data: { t: start, pad: 'x'.repeat(64) } }, OPTS);
        sent.set(`${room}#${out.offset}`, start);
        pubLat.push(performance.now() - start);
        published++;
      } catch {
        errors++;
      }
      pending.delete(id);
    }
  };
  await Promise.all(Array.from({ length: INFLIGHT }, worker));
  const pubSec = (performance.now() - t0) / 1000;
  // Drain: wait until both subscriber nodes have every publication (bounded).
  const want = published;
  const drainEnd = performance.now() + 30_000;
  while (subs.some((s, i) => s.deliveries - base[i] < want) && performance.now() < drainEnd) await new Promise((r) => setTimeout(r, 20));
  const totalSec = (performance.now() - t0) / 1000;
  const delivered = subs.reduce((a, s, i) => a + s.deliveries - base[i], 0);
  const deliveryLat = subs.flatMap((s) => s.latencies);
  await Promise.all([publisher.close(), s1.close(), s2.close()]);
  return {
    engine: engine.name,
    rooms: ROOMS,
    inflight: INFLIGHT,
    seconds: SECONDS,
    publishedPerSec: Math.round(published / pubSec),
    deliveriesPerSec: Math.round(delivered / totalSec),
    delivered,
    expected: 2 * published,
    errors,
    publishP50Ms: +pct(pubLat, 50).toFixed(2),
    publishP99Ms: +pct(pubLat, 99).toFixed(2),
    deliveryP50Ms: +pct(deliveryLat, 50).toFixed(2),
    deliveryP99Ms: +pct(deliveryLat, 99).toFixed(2),
  };
}

async function main() {
  const results = [];
  const redis: RedisHandle = await startRedis();
  results.push(await measure({ name: 'one Redis', make: () => new RedisBroker({ url: redis.url }), stop: () => redis.stop() }));
  await redis.stop();
  const shards = await Promise.all([startRedis(), startRedis(), startRedis()]);
  results.push(await measure({ name: '3 Redis shards', make: () => new ShardedRedisBroker({ urls: shards.map((s) => s.url) }), stop: async () => undefined }));
  await Promise.all(shards.map((s) => s.stop()));
  const cluster = await startRedisCluster({ masters: 3 });
  results.push(await measure({ name: 'Redis Cluster, 3 masters', make: () => new RedisBroker({ url: cluster.url, cluster: true }), stop: async () => undefined }));
  await cluster.stop();
  const nats: NatsHandle = await startNats();
  results.push(await measure({ name: 'NATS JetStream', make: () => new NatsBroker({ url: nats.url }), stop: () => nats.stop() }));
  await nats.stop();
  console.log(JSON.stringify(results, null, 2));
  console.log('\n| engine | publishes/s | cross-node deliveries/s | publish p50 / p99 (ms) | delivery p50 / p99 (ms) | delivered / expected | errors |');
  console.log('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    console.log(`| ${r.engine} | ${r.publishedPerSec.toLocaleString('en')} | ${r.deliveriesPerSec.toLocaleString('en')} | ${r.publishP50Ms} / ${r.publishP99Ms} | ${r.deliveryP50Ms} / ${r.deliveryP99Ms} | ${r.delivered.toLocaleString('en')} / ${r.expected.toLocaleString('en')} | ${r.errors} |`);
  }
}

await main();
