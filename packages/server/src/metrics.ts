import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Prometheus metrics of one server instance (its own registry, so several servers can share a
 * process in tests). Hot-path updates are plain counter increments.
 */
export class Metrics {
  readonly registry = new Registry();
  readonly connections: Gauge;
  readonly connectionsTotal: Counter;
  readonly messagesIn: Counter;
  readonly messagesOut: Counter;
  readonly bytesIn: Counter;
  readonly bytesOut: Counter;
  readonly publications: Counter;
  readonly fanoutSeconds: Histogram;
  readonly drops: Counter;
  readonly slowDisconnects: Counter;
  readonly authFailures: Counter;
  readonly errors: Counter;
  readonly disconnects: Counter;
  readonly rooms: Gauge;
  readonly sseStreams: Gauge;
  readonly docsLoaded: Gauge;
  readonly docUpdates: Counter;
  readonly docRejected: Counter;
  readonly webrtcRelayed: Counter;
  /**
   * Hot-path tallies of the room bus and of `/yjs` (one addition per frame, no label lookup);
   * folded into `messagesIn`/`bytesIn`/`messagesOut`/`bytesOut` with the label `ws` / `yjs`, and
   * into `docUpdates`, when they are read.
   */
  readonly hot = {
    wsMessagesIn: 0, wsBytesIn: 0, wsMessagesOut: 0, wsBytesOut: 0,
    yjsMessagesIn: 0, yjsBytesIn: 0, yjsMessagesOut: 0, yjsBytesOut: 0, docUpdates: 0,
  };

  constructor(labels: { node: string }) {
    const r = this.registry;
    r.setDefaultLabels(labels);
    // The event-loop lag histogram samples with a libuv timer; prom-client's default (every 10 ms)
    // wakes an idle server 100 times a second (~1 % of a core). 100 ms still shows stalls.
    collectDefaultMetrics({ register: r, prefix: 'aqueduct_process_', eventLoopMonitoringPrecision: 100 });
    this.connections = new Gauge({ name: 'aqueduct_connections', help: 'Open client connections', labelNames: ['transport'], registers: [r] });
    this.connectionsTotal = new Counter({ name: 'aqueduct_connections_total', help: 'Accepted client connections', labelNames: ['transport'], registers: [r] });
    const hot = this.hot;
    this.messagesIn = new Counter({
      name: 'aqueduct_messages_in_total', help: 'Messages received from clients', labelNames: ['transport'], registers: [r],
      collect() {
        if (hot.wsMessagesIn > 0) { this.labels('ws').inc(hot.wsMessagesIn); hot.wsMessagesIn = 0; }
        if (hot.yjsMessagesIn > 0) { this.labels('yjs').inc(hot.yjsMessagesIn); hot.yjsMessagesIn = 0; }
      },
    });
    this.messagesOut = new Counter({
      name: 'aqueduct_messages_out_total', help: 'Messages sent to clients', labelNames: ['transport'], registers: [r],
      collect() {
        if (hot.wsMessagesOut > 0) { this.labels('ws').inc(hot.wsMessagesOut); hot.wsMessagesOut = 0; }
        if (hot.yjsMessagesOut > 0) { this.labels('yjs').inc(hot.yjsMessagesOut); hot.yjsMessagesOut = 0; }
      },
    });
    this.bytesIn = new Counter({
      name: 'aqueduct_bytes_in_total', help: 'Bytes received from clients', labelNames: ['transport'], registers: [r],
      collect() {
        if (hot.wsBytesIn > 0) { this.labels('ws').inc(hot.wsBytesIn); hot.wsBytesIn = 0; }
        if (hot.yjsBytesIn > 0) { this.labels('yjs').inc(hot.yjsBytesIn); hot.yjsBytesIn = 0; }
      },
    });
    this.bytesOut = new Counter({
      name: 'aqueduct_bytes_out_total', help: 'Bytes sent to clients', labelNames: ['transport'], registers: [r],
      collect() {
        if (hot.wsBytesOut > 0) { this.labels('ws').inc(hot.wsBytesOut); hot.wsBytesOut = 0; }
        if (hot.yjsBytesOut > 0) { this.labels('yjs').inc(hot.yjsBytesOut); hot.yjsBytesOut = 0; }
      },
    });
    this.publications = new Counter({ name: 'aqueduct_publications_total', help: 'Publications accepted', labelNames: ['source'], registers: [r] });
    this.fanoutSeconds = new Histogram({ name: 'aqueduct_fanout_seconds', help: 'Time to hand one publication to every local subscriber', buckets: [0.00001, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1], registers: [r] });
    this.drops = new Counter({ name: 'aqueduct_dropped_messages_total', help: 'Volatile messages dropped under backpressure', labelNames: ['transport'], registers: [r] });
    this.slowDisconnects = new Counter({ name: 'aqueduct_slow_client_disconnects_total', help: 'Connections closed because their outbound queue overflowed', labelNames: ['transport'], registers: [r] });
    this.authFailures = new Counter({ name: 'aqueduct_auth_failures_total', help: 'Rejected tokens', labelNames: ['code'], registers: [r] });
    this.errors = new Counter({ name: 'aqueduct_errors_total', help: 'Error replies sent', labelNames: ['code'], registers: [r] });
    this.disconnects = new Counter({ name: 'aqueduct_disconnects_total', help: 'Connections closed by the server', labelNames: ['code'], registers: [r] });
    this.rooms = new Gauge({ name: 'aqueduct_rooms', help: 'Rooms with local subscribers', registers: [r] });
    this.sseStreams = new Gauge({ name: 'aqueduct_sse_streams', help: 'Open SSE / long-poll streams', registers: [r] });
    this.docsLoaded = new Gauge({ name: 'aqueduct_docs_loaded', help: 'Yjs documents loaded in memory', registers: [r] });
    this.docUpdates = new Counter({
      name: 'aqueduct_doc_updates_total', help: 'Accepted document updates', registers: [r],
      collect() { if (hot.docUpdates > 0) { this.inc(hot.docUpdates); hot.docUpdates = 0; } },
    });
    this.docRejected = new Counter({ name: 'aqueduct_doc_updates_rejected_total', help: 'Rejected document updates', labelNames: ['reason'], registers: [r] });
    this.webrtcRelayed = new Counter({ name: 'aqueduct_webrtc_connections_total', help: 'Peer connections reported by clients', labelNames: ['path'], registers: [r] });
  }
}
