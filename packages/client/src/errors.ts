import type { ErrorCode, ReplyError } from '@aqueduct/protocol';

/** Client-side error codes (beyond the server's reply codes). `DROPPED`: a queued publish left the outbox unsent (see the `outboxdrop` event for why). */
export type ClientErrorCode = ErrorCode | 'DISCONNECTED' | 'TIMEOUT' | 'QUEUE_FULL' | 'CLOSED' | 'DROPPED';

/** The WebSocket close behind a `CLOSED` error (a final close, or `client.close()`). */
export interface CloseDetails {
  /** The close code (PROTOCOL.md §Close codes), e.g. 4500 AUTH_FAILED, 4502 FORCE_DISCONNECT. */
  closeCode: number;
  closeReason: string;
}

/** A failed request: a server reply error, or a client-side condition. */
export class AqueductError extends Error {
  /** Set on `CLOSED` errors caused by a close: the close code and reason. */
  readonly closeCode?: number;
  readonly closeReason?: string;

  constructor(readonly code: ClientErrorCode, message: string, readonly temporary = false, close?: CloseDetails) {
    super(message);
    this.name = 'AqueductError';
    if (close) {
      this.closeCode = close.closeCode;
      this.closeReason = close.closeReason;
    }
  }

  static fromReply(err: ReplyError): AqueductError {
    return new AqueductError(err.code, err.message, err.temporary);
  }
}
