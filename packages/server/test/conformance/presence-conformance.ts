import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, describe, test } from 'node:test';
import type { Member } from '@aqueduct/protocol';
import type { Presence } from '../../src/presence/presence.js';

/** How a conformance run makes presence stores. */
export interface PresenceFactory {
  /** One node's store. Nodes made by one factory share a backend when `shared` is true. */
  node(): Promise<Presence>;
  shared: boolean;
}

const room = (label: string) => `pres:${label}-${randomUUID().slice(0, 8)}`;
const byClient = (a: Member, b: Member) => a.client.localeCompare(b.client);

/** The Presence contract (see presence.ts), run against an implementation. */
export function runPresenceConformance(name: string, factory: PresenceFactory): void {
  describe(`Presence conformance: ${name}`, () => {
    const nodes: Presence[] = [];
    const make = async () => {
      const p = await factory.node();
      nodes.push(p);
      return p;
    };
    after(async () => { await Promise.all(nodes.map((p) => p.close())); });

    test('add, list and remove members', async () => {
      const p = await make();
      const r = room('basic');
      assert.deepEqual(await p.list(r), []);
      const alice: Member = { client: 'c1', user: 'alice', info: { name: 'Alice', n: 1 } };
      const bob: Member = { client: 'c2', user: 'bob' };
      await p.add(r, alice);
      await p.add(r, bob);
      assert.deepEqual((await p.list(r)).sort(byClient), [alice, bob]);
      await p.remove(r, 'c1');
      assert.deepEqual(await p.list(r), [bob]);
      await p.remove(r, 'c1');
      await p.remove(r, 'unknown');
      await p.remove(r, 'c2');
      assert.deepEqual(await p.list(r), []);
      assert.equal(p.health().ok, true);
    });

    test('adding a client again replaces its entry', async () => {
      const p = await make();
      const r = room('replace');
      await p.add(r, { client: 'c1', user: 'alice', info: { status: 'away' } });
      await p.add(r, { client: 'c1', user: 'alice', info: { status: 'here' } });
      assert.deepEqual(await p.list(r), [{ client: 'c1', user: 'alice', info: { status: 'here' } }]);
    });

    test('rooms are independent; one user may have several clients', async () => {
      const p = await make();
      const r1 = room('a');
      const r2 = room('b');
      await p.add(r1, { client: 'c1', user: 'alice' });
      await p.add(r1, { client: 'c2', user: 'alice' });
      await p.add(r2, { client: 'c3', user: 'bob' });
      assert.deepEqual((await p.list(r1)).map((m) => m.client).sort(), ['c1', 'c2']);
      assert.deepEqual(await p.list(r2), [{ client: 'c3', user: 'bob' }]);
    });

    if (factory.shared) {
      test('members added on every node are listed on every node; close removes a node\'s own', async () => {
        const a = await make();
        const b = await make();
        const r = room('shared');
        await a.add(r, { client: 'ca', user: 'alice' });
        await b.add(r, { client: 'cb', user: 'bob' });
        const want = [{ client: 'ca', user: 'alice' }, { client: 'cb', user: 'bob' }];
        assert.deepEqual((await a.list(r)).sort(byClient), want);
        assert.deepEqual((await b.list(r)).sort(byClient), want);
        await b.remove(r, 'ca');
        assert.equal((await a.list(r)).length, 1, 'any node may remove an entry by client id');
        await a.add(r, { client: 'ca', user: 'alice' });
        await b.close();
        assert.deepEqual(await a.list(r), [{ client: 'ca', user: 'alice' }]);
      });
    }
  });
}
