import type { IncomingMessage, ServerResponse } from 'node:http';

/** A group of HTTP routes. `handle` resolves false when the request is not one of its routes. */
export interface HttpModule {
  readonly name: string;
  handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<boolean>;
}
