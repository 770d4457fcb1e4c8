import type { Counter, Gauge } from 'prom-client';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import type { Hub } from '../core/hub.js';

/** One sample of a node's counters, taken every `admin.statsIntervalMs`. */
export interface StatsSample {
  /** ms since epoch. */
  t: number;
  connections: number;
  /** Messages received from / sent to clients per second since the previous sample. */
  inPerSec: number;
  outPerSec: number;
}

/** What one node reports to the dashboard (GET /api/admin/stats lists one per live node). */
export interface NodeStats {
  node: string;
  /** When this report was made (ms since epoch). */
  at: number;
  uptimeSec: number;
  /** Open client connections by transport (`ws`, `sse`, `yjs`, ...). */
  connections: Record<string, number>;
  connectionsTotal: number;
  /** Rooms with local subscribers on this node, largest first, at most `admin.maxRoomsListed`. */
  rooms: Array<{ room: string; subscribers: number }>;
  roomCount: number;
  messagesInPerSec: number;
  messagesOutPerSec: number;
  /** Totals since start. */
  messagesIn: number;
  messagesOut: number;
  drops: number;
  slowDisconnects: number;
  docsLoaded: number;
  sseStreams: number;
  /** Media through the SFU on this node (absent when `sfu.janusUrl` is not set). */
  sfu?: { up: boolean; rooms: number; publishers: number; subscribers: number };
  /** Recent samples, oldest first, at most `admin.statsSamples`. */
  series: StatsSample[];
}

export interface NodeStatsOptions {
  nodeId: string;
  hub: Hub;
  metrics: Metrics;
  logger: Logger;
  intervalMs: number;
  samples: number;
  maxRoomsListed: number;
}

/**
 * The room through which nodes share their stats: each node publishes its report there every
 * interval (a short history, a short TTL), and any node answers the dashboard from the room's
 * latest publications — so with the Redis broker the dashboard sees every node, with no new seam.
 */
export const NODE_STATS_ROOM = 'aqueduct-admin:nodes';

async function sum(metric: Counter | Gauge): Promise<number> {
  const { values } = await metric.get();
  let total = 0;
  for (const v of values) total += v.value;
  return total;
}

async function byLabel(metric: Gauge, label: string): Promise<Record<string, number>> {
  const { values } = await metric.get();
  const out: Record<string, number> = {};
  for (const v of values) {
    const key = String(v.labels[label] ?? 'other');
    out[key] = (out[key] ?? 0) + v.value;
  }
  return out;
}

/** The SFU gauges (sfu/sfu-metrics.ts), read by name: present only when the SFU is configured. */
async function sfuStats(metrics: Metrics): Promise<NodeStats['sfu']> {
  const get = async (name: string) => {
    const m = metrics.registry.getSingleMetric(name) as Gauge | undefined;
    return m ? sum(m) : undefined;
  };
  const up = await get('aqueduct_sfu_up');
  if (up === undefined) return undefined;
  return { up: up > 0, rooms: (await get('aqueduct_sfu_rooms')) ?? 0, publishers: (await get('aqueduct_sfu_publishers')) ?? 0, subscribers: (await get('aqueduct_sfu_subscribers')) ?? 0 };
}

/**
 * Samples this node's metrics on a timer into a bounded ring and publishes a report for the
 * cluster view. Rates are derived from counter deltas between samples.
 */
export class NodeStatsSampler {
  private readonly ring: StatsSample[] = [];
  private timer?: NodeJS.Timeout;
  private readonly startedAt = Date.now();
  /** The counters belong to this server's own registry, so they were 0 when it started. */
  private last: { t: number; in: number; out: number } = { t: this.startedAt, in: 0, out: 0 };
  private sampling = false;

  constructor(private readonly opts: NodeStatsOptions) {}

  start(): void {
    if (this.timer) return;
    // The first sample waits one interval: the broker is started after the modules are installed.
    this.timer = setInterval(() => void this.sample(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** The latest report of this node (computed now; the series is the sampled ring). */
  async report(): Promise<NodeStats> {
    const { metrics, hub } = this.opts;
    const connections = await byLabel(metrics.connections, 'transport');
    const latest = this.ring[this.ring.length - 1];
    return {
      node: this.opts.nodeId,
      at: Date.now(),
      uptimeSec: Math.round((Date.now() - this.startedAt) / 1000),
      connections,
      connectionsTotal: Object.values(connections).reduce((a, b) => a + b, 0),
      rooms: hub.topRooms(this.opts.maxRoomsListed, NODE_STATS_ROOM),
      roomCount: hub.roomCount,
      messagesInPerSec: latest?.inPerSec ?? 0,
      messagesOutPerSec: latest?.outPerSec ?? 0,
      messagesIn: await sum(metrics.messagesIn),
      messagesOut: await sum(metrics.messagesOut),
      drops: await sum(metrics.drops),
      slowDisconnects: await sum(metrics.slowDisconnects),
      docsLoaded: await sum(metrics.docsLoaded),
      sseStreams: await sum(metrics.sseStreams),
      sfu: await sfuStats(metrics),
      series: [...this.ring],
    };
  }

  private async sample(): Promise<void> {
    if (this.sampling) return; // a slow broker must not pile up samples
    this.sampling = true;
    try {
      const { metrics } = this.opts;
      const now = Date.now();
      const total = { in: await sum(metrics.messagesIn), out: await sum(metrics.messagesOut) };
      const prev = this.last;
      const dt = Math.max(0.001, (now - prev.t) / 1000);
      this.last = { t: now, ...total };
      this.ring.push({
        t: now,
        connections: await sum(metrics.connections),
        inPerSec: round((total.in - prev.in) / dt),
        outPerSec: round((total.out - prev.out) / dt),
      });
      if (this.ring.length > this.opts.samples) this.ring.splice(0, this.ring.length - this.opts.samples);
      await this.share();
    } catch (err) {
      this.opts.logger.warn({ err }, 'admin stats sample failed');
    } finally {
      this.sampling = false;
    }
  }

  /** Publishes this node's report (without the series: peers only need the current figures). */
  private async share(): Promise<void> {
    const report = await this.report();
    const { series: _series, ...summary } = report;
    void _series;
    await this.opts.hub.publish(NODE_STATS_ROOM, summary, {
      event: 'node-stats',
      retention: { historySize: 64, historyTtlMs: Math.max(10_000, this.opts.intervalMs * 5), idempotencyTtlMs: 1000 },
    });
  }

  /**
   * Reports of every node seen within three intervals: this node's full report first, then the
   * latest shared report of each other node (from the stats room's history).
   */
  async cluster(): Promise<NodeStats[]> {
    const self = await this.report();
    const out: NodeStats[] = [self];
    try {
      const page = await this.opts.hub.history(NODE_STATS_ROOM, { limit: 64 });
      const freshAfter = Date.now() - this.opts.intervalMs * 3;
      const seen = new Set([self.node]);
      for (const pub of [...page.publications].reverse()) {
        const r = pub.data as Partial<NodeStats> | null;
        if (!r || typeof r.node !== 'string' || typeof r.at !== 'number' || seen.has(r.node) || r.at < freshAfter) continue;
        seen.add(r.node);
        out.push({ ...(r as NodeStats), series: [] });
      }
    } catch (err) {
      this.opts.logger.warn({ err }, 'admin stats: cluster view unavailable');
    }
    return out;
  }
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
