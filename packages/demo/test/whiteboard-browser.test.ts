/**
 * The whiteboard (/whiteboard) in a real browser (Debian Chromium through playwright-core): Alice
 * and Bob draw on one board; shapes sync through the Yjs document, pen strokes show on the other
 * page live while drawing (over a direct DataChannel) and as a committed shape afterwards, undo is
 * per user, and Carol, joining late, scrubs through the stored frames. Screenshots go to
 * test-artifacts/screenshots/ (docs/screenshots/ with UPDATE_SCREENSHOTS=1).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '@aqueduct/testkit';
import { startTestServer, type TestServer } from '../../server/test/helpers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCREENSHOTS = fileURLToPath(new URL(process.env.UPDATE_SCREENSHOTS === '1' ? '../../../docs/screenshots/' : '../../../test-artifacts/screenshots/', import.meta.url));
const BOARD = 'e2e';
/** Frames every second (the page's default is 5 s) so the test does not wait long for history. */
const FRAME_MS = 1000;
const WAIT = { timeout: 30_000 };
/** Real loopback addresses instead of mDNS names (see demo-browser.test.ts). */
const WEBRTC_ARGS = ['--disable-features=WebRtcHideLocalIpsWithMdns'];

interface ShapeInfo { id: string; kind: string; text: string; author: string; x: number; y: number; w: number; h: number; points?: number[] }
interface ConsoleProblem { page: string; text: string }

/** The shapes of a page's live board, read from its document. */
const shapesOf = (page: Page): Promise<ShapeInfo[]> =>
  page.evaluate(() => (window as unknown as { whiteboard: { board: { list(): ShapeInfo[] } } }).whiteboard.board.list());

describe('whiteboard in a real browser', () => {
  let ts: TestServer;
  let browser: Browser;
  let ctxA: BrowserContext;
  let ctxB: BrowserContext;
  let alice: Page;
  let bob: Page;
  let carol: Page | undefined;
  const problems: ConsoleProblem[] = [];

  async function open(ctx: BrowserContext, name: string): Promise<Page> {
    const page = await ctx.newPage();
    page.on('console', (msg) => { if (msg.type() === 'error') problems.push({ page: name, text: msg.text() }); });
    page.on('pageerror', (err) => problems.push({ page: name, text: `pageerror: ${err.message}` }));
    await page.goto(`${ts.url}/whiteboard?room=${BOARD}&name=${name}&frameMs=${FRAME_MS}`);
    await page.locator('#connection-badge[data-state="online"]').waitFor(WAIT);
    await page.locator('#doc-status[data-synced="true"]').waitFor(WAIT);
    return page;
  }

  /** Screen position of board coordinates (the board is 1600 x 1000 units, scaled to fit). */
  async function at(page: Page, x: number, y: number): Promise<{ x: number; y: number }> {
    const box = await page.locator('#board').boundingBox();
    assert.ok(box);
    return { x: box.x + (x / 1600) * box.width, y: box.y + (y / 1000) * box.height };
  }

  async function drag(page: Page, from: [number, number], to: [number, number], steps = 8): Promise<void> {
    const a = await at(page, ...from);
    const b = await at(page, ...to);
    await page.mouse.move(a.x, a.y);
    await page.mouse.down();
    await page.mouse.move(b.x, b.y, { steps });
    await page.mouse.up();
  }

  async function tool(page: Page, name: string): Promise<void> {
    await page.locator(`[data-tool="${name}"]`).click();
  }

  /** Draws a labelled rectangle or ellipse with a drag; returns its id (read from the page that drew it). */
  async function shape(page: Page, kind: 'rect' | 'ellipse', text: string, from: [number, number], to: [number, number]): Promise<string> {
    await tool(page, kind);
    await page.locator('#shape-text').fill(text);
    await drag(page, from, to);
    const made = (await shapesOf(page)).find((s) => s.kind === kind && s.text === text);
    assert.ok(made, `${kind} "${text}" was not made`);
    assert.equal(await page.evaluate(() => (window as unknown as { whiteboard: { tools: { selected?: string } } }).whiteboard.tools.selected), made.id, 'a new shape is selected');
    await tool(page, 'select');
    return made.id;
  }

  const shapeNode = (page: Page, id: string) => page.locator(`#shapes-layer [data-id="${id}"]`);

  before(async () => {
    const build = spawnSync(process.execPath, ['packages/demo/build.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(build.status, 0, `demo build failed:\n${build.stdout}\n${build.stderr}`);
    mkdirSync(SCREENSHOTS, { recursive: true });
    // A mesh of three at most: a fourth page is refused (MESH_FULL) and uses the bus room.
    ts = await startTestServer({ demo: true, limits: { maxMeshPeers: 3 } });
    browser = await launchChromium(WEBRTC_ARGS);
    ctxA = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    ctxB = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    alice = await open(ctxA, 'Alice');
    bob = await open(ctxB, 'Bob');
  });

  after(async () => {
    await browser?.close();
    await ts?.close();
  });

  test('shapes, text and connectors made in one page appear in the other; move, resize, delete', async () => {
    const first = await shape(alice, 'rect', 'first', [120, 120], [420, 320]);
    await shapeNode(bob, first).filter({ hasText: 'first' }).waitFor(WAIT);
    // Frame 0 of the history holds this state only (the test checks it from a late page below).
    await alice.waitForFunction(() => Number((document.getElementById('timeline') as HTMLInputElement).max) >= 1, undefined, WAIT);

    const ellipse = await shape(bob, 'ellipse', 'Bob idea', [800, 500], [1100, 700]);
    await shapeNode(alice, ellipse).filter({ hasText: 'Bob idea' }).waitFor(WAIT);

    // Text: click with the text tool.
    await tool(alice, 'text');
    await alice.locator('#shape-text').fill('hello board');
    const p = await at(alice, 600, 120);
    await alice.mouse.click(p.x, p.y);
    await bob.locator('#shapes-layer [data-kind="text"]', { hasText: 'hello board' }).waitFor(WAIT);

    // A connector from Alice's rectangle to Bob's ellipse.
    await tool(alice, 'connector');
    await drag(alice, [270, 220], [950, 600]);
    const arrow = bob.locator(`#shapes-layer [data-kind="connector"][data-from="${first}"][data-to="${ellipse}"]`);
    await arrow.waitFor(WAIT);
    const arrowBefore = await arrow.locator('line').last().getAttribute('x1');

    // Move the rectangle: Bob sees it move, and the arrow follows it.
    await tool(alice, 'select');
    await drag(alice, [200, 200], [400, 400]);
    await bob.waitForFunction((id) => {
      const s = (window as unknown as { whiteboard: { board: { get(id: string): { x: number } | undefined } } }).whiteboard.board.get(id);
      return s !== undefined && s.x > 250;
    }, first, WAIT);
    await bob.waitForFunction(([id, x1]) => document.querySelector(`#shapes-layer [data-kind="connector"][data-from="${id}"] line:last-of-type`)?.getAttribute('x1') !== x1, [first, arrowBefore] as const, WAIT);

    // Resize it with the corner handle.
    const before = (await shapesOf(alice)).find((s) => s.id === first);
    assert.ok(before);
    const handle = await alice.locator('#selection-layer [data-handle="resize"]').boundingBox();
    assert.ok(handle);
    await alice.mouse.move(handle.x + handle.width / 2, handle.y + handle.height / 2);
    await alice.mouse.down();
    await alice.mouse.move(handle.x + 80, handle.y + 40, { steps: 5 });
    await alice.mouse.up();
    await bob.waitForFunction(([id, w]) => {
      const s = (window as unknown as { whiteboard: { board: { get(id: string): { w: number } | undefined } } }).whiteboard.board.get(id);
      return s !== undefined && s.w > w + 40;
    }, [first, before.w] as const, WAIT);

    // Delete the text: gone on both pages.
    const text = (await shapesOf(alice)).find((s) => s.kind === 'text');
    assert.ok(text);
    const tp = await at(alice, text.x + 20, text.y + text.h / 2);
    await alice.mouse.click(tp.x, tp.y);
    await alice.keyboard.press('Delete');
    await shapeNode(bob, text.id).waitFor({ state: 'detached', ...WAIT });
    assert.equal((await shapesOf(alice)).some((s) => s.id === text.id), false);
  });

  test('a pen stroke shows on the other page while drawing (P2P) and as a committed shape after', async (t) => {
    await alice.locator('#stroke-path[data-path="p2p-direct"]', { hasText: 'P2P' }).waitFor(WAIT);
    await bob.locator('#stroke-path[data-path="p2p-direct"]', { hasText: 'P2P' }).waitFor(WAIT);
    await tool(alice, 'pen');
    const start = await at(alice, 200, 700);
    await alice.mouse.move(start.x, start.y);
    await alice.mouse.down();
    for (let i = 1; i <= 40; i++) {
      const q = await at(alice, 200 + i * 12, 700 + Math.sin(i / 4) * 80);
      await alice.mouse.move(q.x, q.y);
    }
    // The pen is still down: Bob already sees the stroke, carried by the DataChannel.
    const liveStroke = bob.locator('#live-layer .live-stroke[data-via="p2p"]');
    await liveStroke.waitFor(WAIT);
    const strokeId = await liveStroke.getAttribute('data-id');
    assert.ok(strokeId);
    assert.equal(await shapeNode(bob, strokeId).count(), 0, 'not committed before the pen goes up');
    assert.equal(await shapeNode(alice, strokeId).count(), 0);
    const received = await bob.evaluate(() => (window as unknown as { whiteboard: { live: { received: { p2p: number; server: number } } } }).whiteboard.live.received);
    assert.ok(received.p2p > 0, JSON.stringify(received));
    for (let i = 41; i <= 60; i++) {
      const q = await at(alice, 200 + i * 12, 700 + Math.sin(i / 4) * 80);
      await alice.mouse.move(q.x, q.y);
    }
    await alice.mouse.up();

    // Committed: a stroke shape with the same id, and the live preview is gone.
    await shapeNode(bob, strokeId).waitFor(WAIT);
    await bob.locator(`#live-layer [data-id="${strokeId}"]`).waitFor({ state: 'detached', ...WAIT });
    const committed = (await shapesOf(bob)).find((s) => s.id === strokeId);
    assert.ok(committed?.points);
    // 61 raw points along a smooth curve, simplified.
    assert.ok(committed.points.length / 2 >= 2 && committed.points.length / 2 < 61, `${committed.points.length / 2} points`);
    assert.equal(committed.author, (await shapesOf(alice)).find((s) => s.id === strokeId)?.author);
    const got = await bob.evaluate(() => (window as unknown as { whiteboard: { live: { received: { p2p: number; server: number } } } }).whiteboard.live.received);
    t.diagnostic(`stroke: 61 raw points -> ${committed.points.length / 2} committed; messages received by Bob: ${got.p2p} over P2P, ${got.server} via server`);
    await tool(alice, 'select');
  });

  test('live strokes are drawn from the chunks received, in chunk order, across a lost one', async () => {
    // (A string, not a function: tsx would wrap the inner helper in a function the page lacks.)
    const d = await bob.evaluate(`(() => {
      const live = window.whiteboard.live;
      const chunk = (seq, pts) => ({ id: 'orderzz', seq, pts, color: '#123456', width: 3 });
      // Chunk 1 never comes; 3 comes before 2. Each chunk starts with the previous one's last point.
      live.receive('test', chunk(3, [30, 0, 40, 5]), 'p2p');
      live.receive('test', chunk(0, [0, 0, 10, 0]), 'p2p');
      live.receive('test', chunk(2, [20, 0, 30, 0]), 'p2p');
      return document.querySelector('#live-layer [data-id="orderzz"]')?.getAttribute('d');
    })()`);
    assert.equal(d, 'M0 0L10 0L20 0L30 0L30 0L40 5');
  });

  test('undo is per user: Alice undoes her last shape, not Bob\'s', async () => {
    const mine = await shape(alice, 'rect', 'A-last', [1200, 100], [1450, 250]);
    await shapeNode(bob, mine).waitFor(WAIT);
    const theirs = await shape(bob, 'rect', 'B-last', [1200, 300], [1450, 450]);
    await shapeNode(alice, theirs).waitFor(WAIT);

    await alice.locator('#undo').click();
    await shapeNode(bob, mine).waitFor({ state: 'detached', ...WAIT });
    await shapeNode(alice, mine).waitFor({ state: 'detached', ...WAIT });
    assert.equal(await shapeNode(alice, theirs).count(), 1, 'Bob\'s shape stays on Alice\'s page');
    assert.equal(await shapeNode(bob, theirs).count(), 1, 'Bob\'s shape stays on Bob\'s page');

    // Bob's undo removes his own shape; Alice's redo brings hers back.
    await bob.keyboard.press('Control+z');
    await shapeNode(alice, theirs).waitFor({ state: 'detached', ...WAIT });
    await alice.locator('#redo').click();
    await shapeNode(bob, mine).waitFor(WAIT);
    assert.equal(await shapeNode(bob, theirs).count(), 0);
  });

  test('a late joiner scrubs through the stored frames to an early state', async (t) => {
    const ctxC = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    // Wait for the latest change to be fixed into a frame (by whichever page records).
    const live = await shapesOf(alice);
    for (const page of [alice, bob]) {
      await page.waitForFunction(() => {
        const wb = (window as unknown as { whiteboard: { recorder: { isRecorder: boolean; pending: boolean } } }).whiteboard;
        return !wb.recorder.isRecorder || !wb.recorder.pending;
      }, undefined, WAIT);
    }
    carol = await open(ctxC, 'Carol');
    const slider = carol.locator('#timeline');
    const max = Number(await slider.getAttribute('max'));
    assert.ok(max >= 2, `${max} frames: at least the first state and the newest`);
    assert.equal(await carol.locator('#timeline-label').getAttribute('data-view'), 'live');

    // Frame 1 (index 0): the board as it was right after Alice's first rectangle.
    const scrubAt = Date.now();
    await slider.fill('0');
    await carol.locator('#board[data-view="frame"][data-frame="0"]').waitFor(WAIT);
    await carol.locator('#frame-layer [data-kind="rect"]', { hasText: 'first' }).waitFor(WAIT);
    assert.equal(await carol.locator('#frame-layer [data-id]').count(), 1, 'only the first rectangle in the first frame');
    const bytes = await carol.evaluate(() => (window as unknown as { whiteboard: { stateBytes(): number } }).whiteboard.stateBytes());
    t.diagnostic(`${max} frames; first frame shown ${Date.now() - scrubAt} ms after the scrub (version fetch + render); board document ${bytes} bytes with ${live.length} shapes`);
    assert.match((await carol.locator('#timeline-label').textContent()) ?? '', /^Frame 1 of \d+/);
    // The live board is hidden, and read-only, while a frame is shown.
    assert.equal(await carol.locator('#shapes-layer').isVisible(), false);

    // The newest frame: everything that is on the live board now.
    await slider.fill(String(max - 1));
    await carol.locator(`#board[data-view="frame"][data-frame="${max - 1}"]`).waitFor(WAIT);
    await carol.locator('#frame-layer [data-kind="stroke"]').waitFor(WAIT);
    assert.equal(await carol.locator('#frame-layer [data-id]').count(), live.length);
    assert.equal(await carol.locator('#frame-layer [data-id]', { hasText: 'A-last' }).count(), 1, 'Alice\'s redone shape');
    assert.equal(await carol.locator('#frame-layer [data-id]', { hasText: 'B-last' }).count(), 0, 'Bob\'s undone shape');
    await carol.screenshot({ path: `${SCREENSHOTS}whiteboard-replay.png` });

    // Back to live; then Replay walks every frame and ends on the live board.
    await slider.fill(String(max));
    await carol.locator('#board[data-view="live"]').waitFor(WAIT);
    await carol.locator('#replay').click();
    await carol.locator('#board[data-view="frame"]').waitFor(WAIT);
    await carol.locator('#board[data-view="live"]').waitFor(WAIT);
    assert.equal(await carol.locator('#shapes-layer [data-id]').count(), live.length);
  });

  test('presence cursors and the people list', async () => {
    await alice.locator('#people li', { hasText: 'Bob' }).waitFor(WAIT);
    const p = await at(bob, 700, 400);
    await bob.mouse.move(p.x, p.y);
    await bob.mouse.move(p.x + 30, p.y + 20, { steps: 3 });
    await alice.locator('#cursor-layer .cursor[data-name="Bob"]').waitFor(WAIT);
  });

  test('accessible controls; no sideways scrolling on a phone-sized screen', async () => {
    const unlabelled = await alice.evaluate(() => [
      ...[...document.querySelectorAll('input')].filter((i) => i.labels?.length === 0 && !i.getAttribute('aria-label')).map((i) => `input#${i.id}`),
      ...[...document.querySelectorAll('button')].filter((b) => !(b.textContent ?? '').trim() && !b.getAttribute('aria-label')).map((b) => `button#${b.id}`),
    ]);
    assert.deepEqual(unlabelled, []);
    await bob.setViewportSize({ width: 390, height: 844 });
    try {
      assert.equal(await bob.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
    } finally {
      await bob.setViewportSize({ width: 1280, height: 860 });
    }
  });

  test('screenshot of the board for the README', async () => {
    // Bob draws a stroke and holds the pen: Alice's picture shows it live, with Bob's cursor.
    await tool(bob, 'pen');
    const s = await at(bob, 1150, 820);
    await bob.mouse.move(s.x, s.y);
    await bob.mouse.down();
    for (let i = 1; i <= 30; i++) {
      const q = await at(bob, 1150 + i * 10, 820 - Math.sin(i / 5) * 60);
      await bob.mouse.move(q.x, q.y);
    }
    await alice.locator('#live-layer .live-stroke').waitFor(WAIT);
    await alice.screenshot({ path: `${SCREENSHOTS}whiteboard.png` });
    await bob.mouse.up();
  });

  test('pages without WebRTC or outside a full mesh get live strokes over the bus, and the badges say so', async () => {
    await carol?.context().close();
    carol = undefined;
    const ctxD = await browser.newContext({ viewport: { width: 1024, height: 700 } });
    await ctxD.addInitScript('delete window.RTCPeerConnection;');
    const dave = await open(ctxD, 'Dave');
    await dave.locator('#stroke-path[data-path="server"]', { hasText: 'via server' }).waitFor(WAIT);
    // Alice reaches Bob over P2P and Dave over the server: her badge names the weaker path.
    await alice.locator('#stroke-path[data-path="server"]').waitFor(WAIT);
    assert.match((await alice.locator('#stroke-path').getAttribute('title')) ?? '', /1 peer P2P.*1 peer via server|1 peer via server.*1 peer P2P/);

    await tool(alice, 'pen');
    const s = await at(alice, 300, 900);
    await alice.mouse.move(s.x, s.y);
    await alice.mouse.down();
    for (let i = 1; i <= 20; i++) {
      const q = await at(alice, 300 + i * 15, 900 - i * 4);
      await alice.mouse.move(q.x, q.y);
    }
    const onDave = dave.locator('#live-layer .live-stroke[data-via="server"]');
    await onDave.waitFor(WAIT);
    const id = await onDave.getAttribute('data-id');
    assert.ok(id);
    // Bob still gets the same stroke peer-to-peer.
    await bob.locator(`#live-layer .live-stroke[data-id="${id}"][data-via="p2p"]`).waitFor(WAIT);
    await alice.mouse.up();
    await shapeNode(dave, id).waitFor(WAIT);

    // Eve is the fourth: the mesh (at most 3) refuses her, and strokes go over the bus room both ways.
    const ctxE = await browser.newContext({ viewport: { width: 1024, height: 700 } });
    const eve = await open(ctxE, 'Eve');
    await eve.locator('#stroke-path[data-path="server"]', { hasText: 'via server' }).waitFor(WAIT);
    assert.match((await eve.locator('#stroke-path').getAttribute('title')) ?? '', /not in the peer mesh/);
    const draw = async (page: Page, y: number) => {
      const a = await at(page, 900, y);
      await page.mouse.move(a.x, a.y);
      await page.mouse.down();
      for (let i = 1; i <= 15; i++) {
        const q = await at(page, 900 + i * 15, y + i * 3);
        await page.mouse.move(q.x, q.y);
      }
    };
    await draw(alice, 780);
    await eve.locator('#live-layer .live-stroke[data-via="server"]').waitFor(WAIT);
    await alice.mouse.up();
    await tool(eve, 'pen');
    await draw(eve, 860);
    const fromEve = alice.locator('#live-layer .live-stroke[data-via="server"]');
    await fromEve.waitFor(WAIT);
    await bob.locator(`#live-layer .live-stroke[data-id="${await fromEve.getAttribute('data-id')}"]`).waitFor(WAIT);
    await eve.mouse.up();
    await tool(alice, 'select');
    await ctxE.close();
    await ctxD.close();
    await alice.locator('#stroke-path[data-path="p2p-direct"]').waitFor(WAIT);
  });

  test('shapes drawn offline sync when the page is back online; arrow keys nudge', async () => {
    await ctxB.setOffline(true);
    await bob.locator('#connection-badge[data-state="offline"]').waitFor(WAIT);
    await bob.locator('#doc-status[data-state="disconnected"]').waitFor(WAIT);
    const offline = await shape(bob, 'ellipse', 'drawn offline', [100, 850], [260, 960]);
    const online = await shape(alice, 'rect', 'while Bob was away', [1300, 850], [1500, 960]);
    // Nudge Alice's new (selected) shape with the keyboard.
    await alice.keyboard.press('ArrowLeft');
    await alice.keyboard.press('Shift+ArrowUp');
    assert.equal(await shapeNode(alice, offline).count(), 0, 'an offline edit cannot have arrived');
    await ctxB.setOffline(false);
    await shapeNode(alice, offline).waitFor(WAIT);
    await shapeNode(bob, online).waitFor(WAIT);
    await bob.waitForFunction((id) => {
      const s = (window as unknown as { whiteboard: { board: { get(id: string): { x: number; y: number } | undefined } } }).whiteboard.board.get(id);
      return s !== undefined && Math.abs(s.x - 1290) < 2 && Math.abs(s.y - 849) < 2;
    }, online, WAIT);
    await bob.locator('#connection-badge[data-state="online"]').waitFor(WAIT);
  });

  test('no errors in any browser console', () => {
    assert.deepEqual(problems, []);
  });
});
