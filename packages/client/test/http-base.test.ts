import assert from 'node:assert/strict';
import { test } from 'node:test';
import { httpBaseUrl } from '../src/client.js';

test('the SDK derives its HTTP base from the room-bus URL, keeping a mount prefix (embedding)', () => {
  assert.equal(httpBaseUrl('ws://127.0.0.1:8787/ws'), 'http://127.0.0.1:8787');
  assert.equal(httpBaseUrl('wss://app.example/ws'), 'https://app.example');
  assert.equal(httpBaseUrl('wss://app.example/rt/ws'), 'https://app.example/rt');
  assert.equal(httpBaseUrl('ws://app.example/a/b/ws?token=x'), 'http://app.example/a/b');
  assert.equal(httpBaseUrl('ws://app.example/rt/ws/'), 'http://app.example/rt');
});
