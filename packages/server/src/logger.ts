import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs (pino). Tokens, secrets and API keys are redacted wherever they appear in
 * logged objects; code never logs raw tokens in messages.
 */
export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: { paths: ['token', '*.token', 'headers.authorization', 'headers.cookie', 'apiKey', '*.apiKey', 'secret', '*.secret'], censor: '[redacted]' },
    },
    destination as pino.DestinationStream | undefined,
  );
}
