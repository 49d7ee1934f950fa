import pino from 'pino';

/**
 * The structured logger. Field names are fixed across the code base (STYLE.md §6):
 * tenantId, requestId, triggerId, triggerVersion, customerId, enrollmentId, stepId, timerId,
 * channel, code, durationMs, err. Secrets and personal data are redacted as a second wall;
 * the first wall is never passing them in.
 */
export type Logger = pino.Logger;

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'nudge' },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'authorization',
        '*.authorization',
        'secret',
        '*.secret',
        'apiKey',
        'email',
        '*.email',
        'phone',
        '*.phone',
        'traits',
        '*.traits',
        'body',
        '*.body',
      ],
      censor: '[redacted]',
    },
  });
}
