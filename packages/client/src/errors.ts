import type { ErrorCode, ReplyError } from '@aqueduct/protocol';

/** Client-side error codes (beyond the server's reply codes). */
export type ClientErrorCode = ErrorCode | 'DISCONNECTED' | 'TIMEOUT' | 'QUEUE_FULL' | 'CLOSED';

/** A failed request: a server reply error, or a client-side condition. */
export class AqueductError extends Error {
  constructor(readonly code: ClientErrorCode, message: string, readonly temporary = false) {
    super(message);
    this.name = 'AqueductError';
  }

  static fromReply(err: ReplyError): AqueductError {
    return new AqueductError(err.code, err.message, err.temporary);
  }
}
