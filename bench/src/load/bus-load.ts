import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { FanoutLoadResult, LoadJob } from '../types.js';
import { LatencyHistogram } from '../measure.js';
import { BusConn, busProtocol, type BusProtocol } from './bus-protocols.js';
import { makePayload, nowMicros, parsed, parsePayload } from './payload.js';
import { RawWs } from './raw-ws.js';
import { sync } from './ipc.js';

type FanoutJob = Extract<LoadJob, { kind: 'fanout' }>;
type IdleJob = Extract<LoadJob, { kind: 'idle' }>;

const HOST = '127.0.0.1';
const roomName = (i: number) => `bench:r${i}`;

/** Per-subscriber delivery checks, shared counters for the whole run. */
class DeliveryStats {
  received = 0;
  inWindow = 0;
  measuring = false;
  /** From the window start until the end of the drain. */
  counting = false;
  sinceWindow = 0;
  gaps = 0;
  outOfOrder = 0;
  disconnected = 0;
  readMicros = 0;
  readonly latency = new LatencyHistogram(120_000);
}

interface SubState { room: number; last: number }

async function openConn(
  protocol: BusProtocol, port: number, room: string | undefined, index: number,
  onDelivery: ((buf: Buffer, start: number, end: number) => boolean) | undefined,
  stats: DeliveryStats | undefined,
): Promise<BusConn> {
  const conn = new BusConn();
  conn.ws = await RawWs.open({ host: HOST, port, path: protocol.path(room), protocol: protocol.subprotocol }, {
    onRead: stats ? () => { stats.readMicros = nowMicros(); } : undefined,
    onFrame: (buf, start, end) => {
      if (!onDelivery || !onDelivery(buf, start, end)) conn.receive(buf.toString('utf8', start, end));
    },
    onClose: () => { if (stats) stats.disconnected++; },
  });
  await protocol.handshake(conn, room, index);
  return conn;
}

/** Runs `task(i)` for i in [from, to) with at most `limit` in flight. */
async function pool(from: number, to: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = from;
  const worker = async () => {
    while (next < to) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(limit, to - from) }, worker));
}

function waitUntil(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const deadline = Date.now() + timeoutMs;
    const check = () => {
      if (cond()) resolve(true);
      else if (Date.now() > deadline) resolve(false);
      else setTimeout(check, 20);
    };
    check();
  });
}

/**
 * Fanout: `rooms` x `subscribersPerRoom` subscribers, one publisher connection publishing
 * round robin over the rooms at `pubsPerSec`. Each subscriber checks that sequence numbers of its
 * room arrive exactly once and in order.
 */
export async function runFanout(job: FanoutJob): Promise<FanoutLoadResult> {
  const protocol = busProtocol(job.server, job.jwtSecret);
  const stats = new DeliveryStats();
  const first = new LatencyHistogram(120_000);
  const seqs = new Int32Array(job.rooms);
  const conns: BusConn[] = [];
  const subs: SubState[] = [];
  const total = job.rooms * job.subscribersPerRoom;
  await pool(0, total, 100, async (i) => {
    const state: SubState = { room: i % job.rooms, last: 0 };
    const onDelivery = (buf: Buffer, start: number, end: number) => {
      if (!parsePayload(buf, start, end)) return false;
      stats.received++;
      if (stats.counting) stats.sinceWindow++;
      const seq = parsed.seq;
      if (seq === state.last + 1) state.last = seq;
      else if (seq <= state.last) stats.outOfOrder++;
      else {
        stats.gaps++;
        state.last = seq;
      }
      if (stats.measuring) {
        if (i === 0) first.record((stats.readMicros - parsed.micros) / 1000);
        stats.inWindow++;
        stats.latency.record((stats.readMicros - parsed.micros) / 1000);
      }
      return true;
    };
    conns.push(await openConn(protocol, job.port, roomName(state.room), i, onDelivery, stats));
    subs.push(state);
  });
  const publisher = await openConn(protocol, job.port, undefined, total, undefined, undefined);
  let publishErrors = 0;
  publisher.control = (text) => {
    if (text === '{"t":"ping"}') publisher.ws.sendText('{"t":"pong"}');
    else if (text === '2') publisher.ws.sendText('3');
    else if (text.includes('"error"')) publishErrors++;
  };

  let published = 0;
  let reqId = 10;
  const started = performance.now();
  const tick = () => {
    const due = Math.floor(((performance.now() - started) * job.pubsPerSec) / 1000) - published;
    for (let k = 0; k < due; k++) {
      const room = published % job.rooms;
      const seq = ++seqs[room];
      published++;
      publisher.ws.sendText(protocol.publishFrame(roomName(room), makePayload(seq, nowMicros(), job.payloadBytes), reqId++));
    }
  };
  const timer = setInterval(tick, 1);
  // The load generator's own event-loop delay: a busy load generator inflates measured latency.
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  await new Promise((r) => setTimeout(r, job.warmupMs));
  await sync('window-start');
  stats.measuring = true;
  stats.counting = true;
  loopDelay.enable();
  const windowStart = performance.now();
  await new Promise((r) => setTimeout(r, job.measureMs));
  stats.measuring = false;
  loopDelay.disable();
  const windowSec = (performance.now() - windowStart) / 1000;
  await sync('window-end');
  clearInterval(timer);

  const expected = published * job.subscribersPerRoom;
  const drainStart = performance.now();
  await waitUntil(() => stats.received >= expected, job.drainMs);
  const drainSec = (performance.now() - drainStart) / 1000;
  await sync('drained');
  stats.counting = false;
  const complete = stats.received === expected && stats.gaps === 0 && stats.outOfOrder === 0 && stats.disconnected === 0 && publishErrors === 0
    && subs.every((s) => s.last === seqs[s.room]);
  const result: FanoutLoadResult = {
    published,
    deliveredInWindow: stats.inWindow,
    deliveredSinceWindow: stats.sinceWindow,
    drainSec,
    windowSec,
    expected,
    received: stats.received,
    gaps: stats.gaps,
    outOfOrder: stats.outOfOrder,
    disconnected: stats.disconnected,
    complete,
    latency: stats.latency.summary(),
    publishErrors,
    loadgenLoopDelayP99Ms: Math.round(loopDelay.percentile(99) / 1e4) / 100,
    firstSubscriberLatency: first.summary(),
  };
  for (const c of conns) c.ws.destroy();
  publisher.ws.destroy();
  return result;
}
/**
 * Idle connections: opens connections (each authenticated where the server has auth, and joined
 * to its own room) up to each checkpoint, and lets the harness sample the server's RSS there.
 */
export async function runIdle(job: IdleJob): Promise<Record<string, unknown>> {
  const protocol = busProtocol(job.server, job.jwtSecret);
  const conns: BusConn[] = [];
  let failures = 0;
  let firstError = '';
  let opened = 0;
  const reached: Array<{ connections: number; open: number }> = [];
  for (const target of job.checkpoints) {
    await pool(opened, target, job.concurrency, async (i) => {
      try {
        const conn = await openConn(protocol, job.port, roomName(i), i, undefined, undefined);
        // Steady state: answer heartbeats only.
        conn.control = (text) => {
          if (text === '{"t":"ping"}') conn.ws.sendText('{"t":"pong"}');
          else if (text === '2') conn.ws.sendText('3');
        };
        conns.push(conn);
      } catch (err) {
        failures++;
        firstError ||= (err as Error).message;
      }
    });
    opened = target;
    const open = conns.filter((c) => c.ws.isOpen).length;
    reached.push({ connections: target, open });
    await sync('checkpoint', open);
  }
  const stillOpen = conns.filter((c) => c.ws.isOpen).length;
  for (const c of conns) c.ws.destroy();
  return { reached, failures, firstError, stillOpen };
}
