import { z } from 'zod';

/**
 * The only module that reads `process.env`. Values are validated once into a frozen object;
 * a bad value stops start-up with the variable's name and what would be accepted.
 */
export interface Config {
  /** `null` means trial mode: embedded PostgreSQL under `dataDir`. */
  databaseUrl: string | null;
  /** `null` means trial mode: in-process stand-ins for the Redis parts. */
  redisUrl: string | null;
  host: string;
  port: number;
  operatorToken: string;
  /** Bearer token for `GET /metrics`; `null`: the operator token opens it. */
  metricsToken: string | null;
  clock: 'system' | 'manual';
  smtpUrl: string | null;
  emailFrom: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  nodeEnv: string;
  dataDir: string;
  /** Server-side secret mixed into API-key hashes (HMAC-SHA-256). */
  keyPepper: string;
  redisPrefix: string;
  /**
   * Start even when Redis's `maxmemory-policy` may evict Nudge's keys (`allkeys-*`); without
   * it such a Redis refuses start-up (see `connectRedis`).
   */
  redisAllowEviction: boolean;
  timerShards: number;
  timerLeaseMs: number;
  timerPollMs: number;
  /** Timer transactions in flight at once per worker process. */
  timerConcurrency: number;
  /**
   * Deliveries in flight per tenant in one process; a tenant's timer fires share these slots,
   * so it also bounds how fast one tenant's timers fire. At most `deliveryTotal`.
   */
  deliveryPerTenant: number;
  /** Deliveries in flight in one process, over all tenants. */
  deliveryTotal: number;
  role: 'all' | 'api' | 'worker';
  /** How far in the future an event's `occurredAt` may lie, relative to the service clock. */
  maxFutureSkewMs: number;
  /** PostgreSQL connections per process (1 with embedded PostgreSQL). */
  dbPoolSize: number;
  /**
   * This service's public base URL (no trailing slash), for links in messages: email
   * tracking and one-click unsubscribe, SMS status callbacks. `null`: no such links.
   */
  publicUrl: string | null;
  /** Twilio-style SMS provider; `null` writes SMS to the outbox (`<dataDir>/outbox`). */
  sms: SmsProviderConfig | null;
  /** Web Push VAPID identity; `null` writes PUSH to the outbox. */
  push: PushProviderConfig | null;
  /** How long a channel provider (SMS, push, webhook, SMTP) may take to answer, in ms. */
  providerTimeoutMs: number;
  /**
   * Whether tenant-controlled targets (webhook URLs, push endpoints) may be loopback,
   * private, link-local or other non-public addresses. Default `deny` when NODE_ENV is
   * production, `allow` otherwise (trial mode and tests talk to receivers on localhost).
   */
  outboundPrivate: 'allow' | 'deny';
}

/** Set from NUDGE_SMS_API_URL, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and NUDGE_SMS_FROM. */
export interface SmsProviderConfig {
  /** Base URL of the Messages API (default https://api.twilio.com). */
  apiUrl: string;
  accountSid: string;
  authToken: string;
  /** Sender: E.164 number, short code or alphanumeric sender ID. */
  from: string;
}

/** Set from VAPID_PUBLIC_KEY, VAPID_PRIVATE_KEY and VAPID_SUBJECT. */
export interface PushProviderConfig {
  /** base64url P-256 public key (65 bytes uncompressed). */
  vapidPublicKey: string;
  /** base64url P-256 private key (32 bytes). */
  vapidPrivateKey: string;
  /** `mailto:` or `https:` contact for push services. */
  subject: string;
}

/** Used only in trial mode, where nothing is reachable from outside the machine by default. */
export const TRIAL_OPERATOR_TOKEN = 'trial-operator-token';
const TRIAL_KEY_PEPPER = 'trial-mode-pepper-not-for-production';

const optionalUrl = (protocols: string[]) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined))
    .refine(
      (v) => v === undefined || protocols.some((p) => v.startsWith(`${p}://`)),
      `a URL starting with ${protocols.map((p) => `${p}://`).join(' or ')}`,
    );

const intIn = (min: number, max: number, fallback: number) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === '' ? String(fallback) : v))
    .refine((v) => /^\d+$/.test(v) && Number(v) >= min && Number(v) <= max, {
      message: `an integer from ${min} to ${max}`,
    })
    .transform(Number);

const booleanFlag = (fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === '' ? String(fallback) : v))
    .refine((v) => v === 'true' || v === 'false', { message: 'true or false' })
    .transform((v) => v === 'true');

/** A base64url string that decodes to exactly `bytes` bytes. */
const base64UrlKey = (bytes: number, description: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined))
    .refine(
      (v) =>
        v === undefined ||
        (/^[A-Za-z0-9_-]+$/.test(v) && Buffer.from(v, 'base64url').length === bytes),
      `${description} (base64url, ${bytes} bytes)`,
    );

const optionalText = (pattern: RegExp, description: string) =>
  z
    .string()
    .trim()
    .optional()
    .transform((v) => (v ? v : undefined))
    .refine((v) => v === undefined || pattern.test(v), description);

const envSchema = z.object({
  DATABASE_URL: optionalUrl(['postgres', 'postgresql']),
  REDIS_URL: optionalUrl(['redis', 'rediss']),
  HOST: z.string().default('127.0.0.1'),
  PORT: intIn(0, 65535, 4000),
  NUDGE_OPERATOR_TOKEN: z
    .string()
    .optional()
    .refine((v) => v === undefined || v.length >= 16, 'at least 16 characters'),
  NUDGE_METRICS_TOKEN: z
    .string()
    .optional()
    .transform((v) => (v ? v : undefined))
    .refine((v) => v === undefined || v.length >= 16, 'at least 16 characters'),
  NUDGE_CLOCK: z.enum(['system', 'manual'], { message: 'system or manual' }).default('system'),
  SMTP_URL: optionalUrl(['smtp', 'smtps']),
  NUDGE_EMAIL_FROM: z.string().default('Nudge <nudge@localhost>'),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      message: 'one of fatal, error, warn, info, debug, trace, silent',
    })
    .default('info'),
  NODE_ENV: z.string().default('development'),
  NUDGE_DATA_DIR: z.string().default('.data'),
  NUDGE_KEY_PEPPER: z
    .string()
    .optional()
    .refine((v) => v === undefined || v.length >= 16, 'at least 16 characters'),
  NUDGE_REDIS_PREFIX: z
    .string()
    .regex(/^[a-zA-Z0-9_:-]{1,40}$/, 'letters, digits, _ : - (at most 40)')
    .default('nudge'),
  NUDGE_REDIS_ALLOW_EVICTION: booleanFlag(false),
  NUDGE_TIMER_SHARDS: intIn(1, 256, 4),
  NUDGE_TIMER_LEASE_MS: intIn(1000, 3_600_000, 30_000),
  NUDGE_TIMER_POLL_MS: intIn(5, 60_000, 50),
  NUDGE_TIMER_CONCURRENCY: intIn(1, 64, 8),
  NUDGE_DELIVERY_PER_TENANT: intIn(1, 256, 4),
  NUDGE_DELIVERY_TOTAL: intIn(1, 1024, 32),
  NUDGE_ROLE: z.enum(['all', 'api', 'worker'], { message: 'all, api or worker' }).default('all'),
  NUDGE_MAX_FUTURE_SKEW_MS: intIn(0, 7 * 24 * 3_600_000, 24 * 3_600_000),
  NUDGE_DB_POOL_SIZE: intIn(1, 200, 10),
  NUDGE_PUBLIC_URL: optionalUrl(['http', 'https'])
    .refine(
      (v) => v === undefined || (URL.canParse(v) && !/[?#]/.test(v)),
      'a valid URL without query or fragment',
    )
    .transform((v) => v?.replace(/\/+$/, '')),
  NUDGE_SMS_API_URL: optionalUrl(['http', 'https'])
    .refine((v) => v === undefined || URL.canParse(v), 'a valid URL')
    .transform((v) => (v ?? 'https://api.twilio.com').replace(/\/+$/, '')),
  TWILIO_ACCOUNT_SID: optionalText(/^AC[0-9a-fA-F]{32}$/, 'AC followed by 32 hex digits'),
  TWILIO_AUTH_TOKEN: z
    .string()
    .optional()
    .transform((v) => (v ? v : undefined)),
  NUDGE_SMS_FROM: optionalText(
    /^(\+[1-9]\d{6,14}|\d{3,8}|(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11})$/,
    'an E.164 number (+15551234567), a short code or an alphanumeric sender ID (≤ 11 characters)',
  ),
  VAPID_PUBLIC_KEY: base64UrlKey(65, 'an uncompressed P-256 public key'),
  VAPID_PRIVATE_KEY: base64UrlKey(32, 'a P-256 private key'),
  VAPID_SUBJECT: optionalText(
    /^(mailto:[^\s@]+@[^\s@]+|https:\/\/[^\s/]+.*)$/,
    'a mailto: address or an https:// URL',
  ),
  NUDGE_PROVIDER_TIMEOUT_MS: intIn(100, 120_000, 10_000),
  NUDGE_OUTBOUND_PRIVATE: z
    .enum(['allow', 'deny', ''], { message: 'allow or deny' })
    .optional()
    .transform((v) => (v ? v : undefined)),
});

type Env = z.infer<typeof envSchema>;

/**
 * A provider is configured by all of its variables or none. Returns the problem line naming
 * the missing ones, or null.
 */
function allOrNone(env: Env, names: (keyof Env)[], what: string): string | null {
  const missing = names.filter((name) => env[name] === undefined);
  if (missing.length === 0 || missing.length === names.length) return null;
  const given = names.filter((name) => !missing.includes(name));
  const verb = given.length === 1 ? 'is' : 'are';
  return `${missing.join(', ')}: required for ${what} when ${given.join(', ')} ${verb} set`;
}

/** Thrown when the environment is invalid; the message names every bad variable. */
export class ConfigError extends Error {}

/** Reads and validates the environment. Throws `ConfigError` naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Readonly<Config> {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map(
      (issue) => `${issue.path.join('.')}: expected ${issue.message}`,
    );
    throw new ConfigError(`invalid configuration\n  ${problems.join('\n  ')}`);
  }
  const e = parsed.data;
  const isTrial = !e.DATABASE_URL || !e.REDIS_URL;
  const isProduction = e.NODE_ENV === 'production';

  if (isProduction && isTrial) {
    throw new ConfigError(
      'invalid configuration\n  DATABASE_URL and REDIS_URL: both are ' +
        'required when NODE_ENV=production ' +
        '(trial mode with embedded stand-ins is single-process and not for production)',
    );
  }
  if (!isTrial && !e.NUDGE_OPERATOR_TOKEN) {
    throw new ConfigError(
      'invalid configuration\n  NUDGE_OPERATOR_TOKEN: required (at least 16 ' +
        'characters) when DATABASE_URL is set',
    );
  }
  if (isProduction && !e.NUDGE_KEY_PEPPER) {
    throw new ConfigError(
      'invalid configuration\n  NUDGE_KEY_PEPPER: required (at least 16 ' +
        'characters) when NODE_ENV=production',
    );
  }
  if (e.NUDGE_DELIVERY_PER_TENANT > e.NUDGE_DELIVERY_TOTAL) {
    throw new ConfigError(
      'invalid configuration\n  NUDGE_DELIVERY_PER_TENANT: at most NUDGE_DELIVERY_TOTAL ' +
        `(${e.NUDGE_DELIVERY_TOTAL})`,
    );
  }
  if (isProduction && e.NUDGE_CLOCK === 'manual') {
    throw new ConfigError('invalid configuration\n  NUDGE_CLOCK: manual is refused in production');
  }
  const partialProviders = [
    allOrNone(e, ['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'NUDGE_SMS_FROM'], 'SMS'),
    allOrNone(e, ['VAPID_PUBLIC_KEY', 'VAPID_PRIVATE_KEY', 'VAPID_SUBJECT'], 'Web Push'),
  ].filter((problem) => problem !== null);
  if (partialProviders.length > 0) {
    throw new ConfigError(`invalid configuration\n  ${partialProviders.join('\n  ')}`);
  }

  return Object.freeze({
    databaseUrl: e.DATABASE_URL ?? null,
    redisUrl: e.REDIS_URL ?? null,
    host: e.HOST,
    port: e.PORT,
    operatorToken: e.NUDGE_OPERATOR_TOKEN ?? TRIAL_OPERATOR_TOKEN,
    metricsToken: e.NUDGE_METRICS_TOKEN ?? null,
    clock: e.NUDGE_CLOCK,
    smtpUrl: e.SMTP_URL ?? null,
    emailFrom: e.NUDGE_EMAIL_FROM,
    logLevel: e.LOG_LEVEL,
    nodeEnv: e.NODE_ENV,
    dataDir: e.NUDGE_DATA_DIR,
    keyPepper: e.NUDGE_KEY_PEPPER ?? TRIAL_KEY_PEPPER,
    redisPrefix: e.NUDGE_REDIS_PREFIX,
    redisAllowEviction: e.NUDGE_REDIS_ALLOW_EVICTION,
    timerShards: e.NUDGE_TIMER_SHARDS,
    timerLeaseMs: e.NUDGE_TIMER_LEASE_MS,
    timerPollMs: e.NUDGE_TIMER_POLL_MS,
    timerConcurrency: e.NUDGE_TIMER_CONCURRENCY,
    deliveryPerTenant: e.NUDGE_DELIVERY_PER_TENANT,
    deliveryTotal: e.NUDGE_DELIVERY_TOTAL,
    role: e.NUDGE_ROLE,
    maxFutureSkewMs: e.NUDGE_MAX_FUTURE_SKEW_MS,
    dbPoolSize: e.NUDGE_DB_POOL_SIZE,
    publicUrl: e.NUDGE_PUBLIC_URL ?? null,
    sms:
      e.TWILIO_ACCOUNT_SID && e.TWILIO_AUTH_TOKEN && e.NUDGE_SMS_FROM
        ? {
            apiUrl: e.NUDGE_SMS_API_URL,
            accountSid: e.TWILIO_ACCOUNT_SID,
            authToken: e.TWILIO_AUTH_TOKEN,
            from: e.NUDGE_SMS_FROM,
          }
        : null,
    push:
      e.VAPID_PUBLIC_KEY && e.VAPID_PRIVATE_KEY && e.VAPID_SUBJECT
        ? {
            vapidPublicKey: e.VAPID_PUBLIC_KEY,
            vapidPrivateKey: e.VAPID_PRIVATE_KEY,
            subject: e.VAPID_SUBJECT,
          }
        : null,
    providerTimeoutMs: e.NUDGE_PROVIDER_TIMEOUT_MS,
    outboundPrivate: e.NUDGE_OUTBOUND_PRIVATE ?? (isProduction ? 'deny' : 'allow'),
  });
}
