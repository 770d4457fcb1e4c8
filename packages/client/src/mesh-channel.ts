import { Emitter } from './emitter.js';
import type { ChannelMessageInfo, ChannelOptions, MeshChannelEvents } from './mesh-types.js';
import type { Peer } from './peer.js';

/** What a channel needs from its mesh: sending, and whether its DataChannel to a peer is open. */
export interface ChannelSink {
  /** Sends `data` on `channel` to `to` (every peer when undefined); returns the peers it missed. */
  send(channel: MeshChannel, data: unknown, to: string[] | undefined): string[];
  isOpen(channel: string, peerId: string): boolean;
}

/**
 * A named channel over every peer of the mesh. Data is any JSON value; it travels on the peer's
 * DataChannel when open, else (with `fallback`) as a volatile publication on the room bus.
 */
export class MeshChannel extends Emitter<MeshChannelEvents> {
  constructor(private readonly mesh: ChannelSink, readonly name: string, readonly options: Required<Pick<ChannelOptions, 'id'>> & ChannelOptions) {
    super();
  }

  /** Sends to every peer. Returns the ids of the peers it could not be sent to. */
  send(data: unknown): string[] {
    return this.mesh.send(this, data, undefined);
  }

  /** Whether this channel's DataChannel to `peerId` is open (else sends to it go over the bus). */
  isOpen(peerId: string): boolean {
    return this.mesh.isOpen(this.name, peerId);
  }

  /** Sends to one peer. Returns false if it could not be sent. */
  sendTo(peerId: string, data: unknown): boolean {
    return this.mesh.send(this, data, [peerId]).length === 0;
  }

  /** @internal */
  _emit(from: string, data: unknown, info: ChannelMessageInfo): void {
    this.emit('message', from, data, info);
  }

  /** @internal */
  _opened(peerId: string): void {
    this.emit('open', peerId);
  }
}

/** Opens `channel`'s negotiated DataChannel on the peer's current connection (once per connection). */
export function openChannel(peer: Peer, channel: MeshChannel): void {
  const pc = peer.pc;
  if (!pc || peer.channels.has(channel.name)) return;
  const { ordered, maxRetransmits, maxPacketLifeTime, id } = channel.options;
  const init: RTCDataChannelInit = { negotiated: true, id, ordered: ordered ?? true };
  if (maxRetransmits !== undefined) init.maxRetransmits = maxRetransmits;
  if (maxPacketLifeTime !== undefined) init.maxPacketLifeTime = maxPacketLifeTime;
  const dc = pc.createDataChannel(channel.name, init);
  peer.channels.set(channel.name, dc);
  dc.onopen = () => { if (peer.pc === pc) channel._opened(peer.id); };
  dc.onmessage = (ev: MessageEvent) => {
    if (peer.pc !== pc || typeof ev.data !== 'string') return;
    let data: unknown;
    try { data = JSON.parse(ev.data); } catch { return; }
    channel._emit(peer.id, data, { via: 'p2p' });
  };
}
