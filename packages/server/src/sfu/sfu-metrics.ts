import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Counts of the SFU module on this node. */
export interface SfuStats { rooms: number; publishers: number; subscribers: number; participants: number; up: boolean }

/** Prometheus metrics of the SFU module (README §Media (SFU), metrics), in the server's registry. */
export class SfuMetrics {
  readonly rooms: Gauge;
  readonly publishers: Gauge;
  readonly subscribers: Gauge;
  readonly janusRtt: Histogram;
  readonly errors: Counter;
  readonly up: Gauge;
  readonly resets: Counter;

  /** `stats` is read at scrape time (gauges need no bookkeeping on every change). */
  constructor(r: Registry, stats: () => SfuStats) {
    this.rooms = new Gauge({ name: 'aqueduct_sfu_rooms', help: 'Media rooms with participants on this node', registers: [r], collect() { this.set(stats().rooms); } });
    this.publishers = new Gauge({ name: 'aqueduct_sfu_publishers', help: 'Media participants of this node that publish', registers: [r], collect() { this.set(stats().publishers); } });
    this.subscribers = new Gauge({ name: 'aqueduct_sfu_subscribers', help: 'Media participants of this node that receive feeds', registers: [r], collect() { this.set(stats().subscribers); } });
    this.janusRtt = new Histogram({
      name: 'aqueduct_sfu_janus_rtt_seconds', help: 'Round trip of Janus API requests (async VideoRoom answers included)',
      labelNames: ['request'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: [r],
    });
    this.errors = new Counter({ name: 'aqueduct_sfu_errors_total', help: 'Failed media requests and SFU faults', labelNames: ['code'], registers: [r] });
    this.up = new Gauge({ name: 'aqueduct_sfu_up', help: '1 while the Janus connection is up', registers: [r], collect() { this.set(stats().up ? 1 : 0); } });
    this.resets = new Counter({ name: 'aqueduct_sfu_resets_total', help: 'Media participants told to re-join after a Janus loss', registers: [r] });
  }
}
