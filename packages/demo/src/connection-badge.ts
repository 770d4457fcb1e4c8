import type { AqueductClient, ConnectionState } from '@aqueduct/client';

/** What the badge shows. `offline` also covers a connection the server closed for good. */
export type BadgeState = 'online' | 'reconnecting' | 'offline';

/**
 * The connection badge. It reports what the SDK knows, not what we hope: `online` only while the
 * bus connection is authenticated; `reconnecting` while the SDK retries; `offline` while the
 * browser has no network (or the server closed the connection for good). Publishes waiting for an
 * acknowledgement are counted from `client.queuedPublishes`, the SDK's own queue.
 */
export class ConnectionBadge {
  private closedReason?: string;

  constructor(private readonly node: HTMLElement, private readonly client: AqueductClient) {
    client.on('state', () => this.render());
    for (const ev of ['outboxrestore', 'outboxack', 'outboxdrop'] as const) client.on(ev, () => this.render());
    client.on('disconnected', (info) => {
      if (!info.reconnect) this.closedReason = info.reason || `code ${info.code}`;
      this.render();
    });
    window.addEventListener('online', () => this.render());
    window.addEventListener('offline', () => this.render());
    this.render();
  }

  /** The state the badge shows right now. */
  get state(): BadgeState {
    return badgeState(this.client.state, navigator.onLine);
  }

  /** Re-renders (call after publishing: the queue length changed). */
  render(): void {
    const state = this.state;
    const queued = this.client.queuedPublishes;
    const waiting = queued > 0 ? ` · ${queued} queued` : '';
    let text: string;
    if (state === 'online') text = queued > 0 ? `Online · sending ${queued}` : 'Online';
    else if (state === 'reconnecting') text = `Reconnecting…${waiting}`;
    else text = this.client.state === 'closed' ? `Offline · ${this.closedReason ?? 'closed'}${waiting}` : `Offline${waiting}`;
    this.node.dataset.state = state;
    this.node.dataset.queued = String(queued);
    if (this.node.textContent !== text) this.node.textContent = text;
  }
}

/** Maps the SDK state and the browser's network flag to the badge. */
export function badgeState(state: ConnectionState, browserOnline: boolean): BadgeState {
  if (state === 'connected') return 'online';
  if (state === 'closed' || !browserOnline) return 'offline';
  return 'reconnecting';
}
