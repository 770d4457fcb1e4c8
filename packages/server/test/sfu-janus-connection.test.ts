import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { WebSocketServer, type WebSocket } from 'ws';
import { createLogger } from '../src/logger.js';
import { JanusConnection, JanusError, JanusUnavailableError, type JanusMessage } from '../src/sfu/janus-connection.js';

/**
 * The Janus client's bounds against a scripted Janus double (a `ws` server speaking
 * `janus-protocol`): request timeout, pending limit, api secret, ack-then-event answers, errors,
 * keepalives, and down/up around a dropped socket.
 */
describe('JanusConnection (scripted Janus)', () => {
  let wss: WebSocketServer;
  let url: string;
  const received: Array<Record<string, unknown>> = [];
  let behaviour: (msg: Record<string, unknown>, ws: WebSocket) => void = () => undefined;
  const sockets = new Set<WebSocket>();

  before(async () => {
    wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: (p) => (p.has('janus-protocol') ? 'janus-protocol' : false) });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
    wss.on('connection', (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('message', (data) => {
        const msg = JSON.parse(data.toString()) as Record<string, unknown>;
        received.push(msg);
        behaviour(msg, ws);
      });
    });
  });

  after(async () => {
    for (const ws of sockets) ws.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  function connect(opts: Partial<ConstructorParameters<typeof JanusConnection>[0]> = {}, events: { up?: () => void; down?: (r: string) => void; event?: (m: JanusMessage) => void } = {}) {
    const conn = new JanusConnection({
      url, apiSecret: 's3cret', requestTimeoutMs: 300, maxPendingRequests: 3, keepaliveMs: 1000, reconnectMinMs: 20, reconnectMaxMs: 100, ...opts,
    }, { up: events.up ?? (() => undefined), down: events.down ?? (() => undefined), event: events.event ?? (() => undefined), rtt: () => undefined }, createLogger('silent'));
    return conn;
  }

  /** Answers the connection's probe (`create`, then `destroy` of that session). */
  function probe(msg: Record<string, unknown>, ws: WebSocket): boolean {
    if (msg.janus === 'create') ws.send(JSON.stringify({ janus: 'success', transaction: msg.transaction, data: { id: 1 } }));
    else if (msg.janus === 'destroy' && msg.session_id === 1) ws.send(JSON.stringify({ janus: 'success', transaction: msg.transaction }));
    else return false;
    return true;
  }

  async function up(conn: JanusConnection): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!conn.isUp) {
      if (Date.now() > deadline) throw new Error('not up');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  test('answers, ack-then-event for plugin messages, errors, api secret on every request', async () => {
    behaviour = (msg, ws) => {
      const t = msg.transaction;
      if (msg.janus === 'create') ws.send(JSON.stringify({ janus: 'success', transaction: t, data: { id: 42 } }));
      if (msg.janus === 'message') {
        ws.send(JSON.stringify({ janus: 'ack', transaction: t }));
        setTimeout(() => ws.send(JSON.stringify({ janus: 'event', transaction: t, sender: 7, plugindata: { plugin: 'janus.plugin.videoroom', data: { videoroom: 'joined', id: 9 } } })), 20);
      }
      if (msg.janus === 'attach') ws.send(JSON.stringify({ janus: 'error', transaction: t, error: { code: 460, reason: 'No such session' } }));
      if (msg.janus === 'destroy') ws.send(JSON.stringify({ janus: 'success', transaction: t, plugindata: { plugin: 'x', data: { error_code: 426, error: 'No such room' } } }));
    };
    const conn = connect();
    conn.start();
    try {
      await up(conn);
      assert.equal((await conn.request({ janus: 'create' })).data?.id, 42);
      const ev = await conn.request({ janus: 'message', session_id: 42, handle_id: 7, body: { request: 'join' } });
      assert.equal(ev.plugindata?.data.id, 9);
      await assert.rejects(conn.request({ janus: 'attach', session_id: 1 }), (e: unknown) => e instanceof JanusError && e.code === 460);
      await assert.rejects(conn.request({ janus: 'destroy', session_id: 1 }), (e: unknown) => e instanceof JanusError && e.code === 426);
      assert.ok(received.every((m) => m.apisecret === 's3cret' && typeof m.transaction === 'string'));
    } finally {
      conn.close();
    }
  });

  test('a request without an answer fails after requestTimeoutMs; in-flight requests are bounded', async () => {
    behaviour = probe;
    const conn = connect();
    conn.start();
    try {
      await up(conn);
      behaviour = () => undefined;
      const t0 = Date.now();
      const pending = [1, 2, 3].map(() => conn.request({ janus: 'create' }));
      await assert.rejects(conn.request({ janus: 'create' }), (e: unknown) => e instanceof JanusUnavailableError && /too many/.test((e as Error).message));
      for (const p of pending) await assert.rejects(p, (e: unknown) => e instanceof JanusUnavailableError && /did not answer/.test((e as Error).message));
      assert.ok(Date.now() - t0 >= 250);
    } finally {
      conn.close();
    }
  });

  test('a Janus that refuses the API secret is not up: the reason names the secret, and it keeps retrying', async () => {
    behaviour = (msg, ws) => ws.send(JSON.stringify({ janus: 'error', transaction: msg.transaction, error: { code: 403, reason: 'Unauthorized request (wrong or missing secret/token)' } }));
    let ups = 0;
    const conn = connect({}, { up: () => ups++ });
    const creates = () => received.filter((m) => m.janus === 'create').length;
    const before = creates();
    conn.start();
    try {
      const deadline = Date.now() + 5000;
      while (creates() < before + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(creates() >= before + 2, 'probes again after a refusal');
      assert.equal(conn.isUp, false);
      assert.equal(ups, 0);
      assert.match(conn.downReason, /sfu\.apiSecret/);
    } finally {
      conn.close();
    }
  });

  test('keepalives for tracked sessions; a dropped socket fails pending requests, reports down, reconnects', async () => {
    behaviour = (msg, ws) => {
      if (probe(msg, ws)) return;
      if (msg.janus === 'keepalive') ws.send(JSON.stringify({ janus: 'ack', transaction: msg.transaction }));
    };
    let downs = 0;
    let ups = 0;
    const conn = connect({ keepaliveMs: 1000, requestTimeoutMs: 5000 }, { up: () => ups++, down: () => downs++ });
    conn.start();
    try {
      await up(conn);
      conn.track(77);
      const before = received.filter((m) => m.janus === 'keepalive' && m.session_id === 77).length;
      await new Promise((r) => setTimeout(r, 1300));
      assert.ok(received.filter((m) => m.janus === 'keepalive' && m.session_id === 77).length > before, 'keepalive sent');
      const hanging = conn.request({ janus: 'attach', session_id: 1 });
      for (const ws of sockets) ws.terminate();
      await assert.rejects(hanging, JanusUnavailableError);
      assert.equal(downs, 1);
      await assert.rejects(conn.request({ janus: 'attach', session_id: 1 }), JanusUnavailableError);
      await up(conn);
      assert.equal(ups, 2);
    } finally {
      conn.close();
    }
  });
});
