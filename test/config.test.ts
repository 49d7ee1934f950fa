import { ConfigError, TRIAL_OPERATOR_TOKEN, loadConfig } from '../src/config';

/**
 * `loadConfig` is the only reader of the environment (STYLE.md §10): it validates once and
 * fails at startup naming the bad variable. These tests pass the environment explicitly.
 */

const PRODUCTION = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://nudge@db.internal:5432/nudge',
  REDIS_URL: 'redis://cache.internal:6379',
  NUDGE_OPERATOR_TOKEN: 'operator-token-0123456789',
  NUDGE_KEY_PEPPER: 'pepper-0123456789abcdef',
};

/** The ConfigError that `env` produces; fails the test if there is none. */
function configErrorOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`);
}

describe('config', () => {
  describe('defaults (trial mode)', () => {
    it('an empty environment gives the documented defaults', () => {
      const config = loadConfig({});

      expect(config).toEqual({
        databaseUrl: null,
        redisUrl: null,
        host: '127.0.0.1',
        port: 4000,
        operatorToken: TRIAL_OPERATOR_TOKEN,
        metricsToken: null,
        clock: 'system',
        smtpUrl: null,
        emailFrom: 'Nudge <nudge@localhost>',
        logLevel: 'info',
        nodeEnv: 'development',
        dataDir: '.data',
        keyPepper: expect.any(String),
        redisAllowEviction: false,
        redisPrefix: 'nudge',
        timerShards: 4,
        timerLeaseMs: 30_000,
        timerPollMs: 50,
        timerConcurrency: 8,
        deliveryPerTenant: 4,
        deliveryTotal: 32,
        role: 'all',
        maxFutureSkewMs: 24 * 3_600_000,
        dbPoolSize: 10,
        publicUrl: null,
        sms: null,
        push: null,
        providerTimeoutMs: 10_000,
        outboundPrivate: 'allow',
      });
    });

    it('the result is frozen', () => {
      const config = loadConfig({});

      expect(Object.isFrozen(config)).toBe(true);
    });

    it('reads only the environment it is given, not process.env', () => {
      const saved = process.env.PORT;
      process.env.PORT = 'not-a-port';
      try {
        expect(loadConfig({}).port).toBe(4000);
      } finally {
        if (saved === undefined) delete process.env.PORT;
        else process.env.PORT = saved;
      }
    });

    it('an empty PORT falls back to the default', () => {
      expect(loadConfig({ PORT: '' }).port).toBe(4000);
    });

    it('blank URLs mean "not set" (trial mode)', () => {
      const config = loadConfig({ DATABASE_URL: '  ', REDIS_URL: '' });

      expect(config.databaseUrl).toBeNull();
      expect(config.redisUrl).toBeNull();
    });

    it('valid values are parsed into their types', () => {
      const config = loadConfig({
        ...PRODUCTION,
        NODE_ENV: 'development',
        PORT: '8080',
        NUDGE_CLOCK: 'manual',
        SMTP_URL: 'smtp://mail.internal:25',
        NUDGE_TIMER_SHARDS: '16',
        NUDGE_ROLE: 'worker',
        LOG_LEVEL: 'debug',
        NUDGE_DELIVERY_PER_TENANT: '16',
        NUDGE_DELIVERY_TOTAL: '64',
      });

      expect(config).toMatchObject({
        databaseUrl: PRODUCTION.DATABASE_URL,
        redisUrl: PRODUCTION.REDIS_URL,
        port: 8080,
        clock: 'manual',
        smtpUrl: 'smtp://mail.internal:25',
        timerShards: 16,
        role: 'worker',
        logLevel: 'debug',
        deliveryPerTenant: 16,
        deliveryTotal: 64,
        operatorToken: PRODUCTION.NUDGE_OPERATOR_TOKEN,
        keyPepper: PRODUCTION.NUDGE_KEY_PEPPER,
      });
    });

    it.each(['0', '65535'])('PORT %s is accepted (0 = any free port)', (port) => {
      expect(loadConfig({ PORT: port }).port).toBe(Number(port));
    });
  });

  describe('bad values name the variable', () => {
    it('NUDGE_METRICS_TOKEN shorter than 16 characters is refused naming it; a long one is kept', () => {
      expect(configErrorOf({ NUDGE_METRICS_TOKEN: 'short' }).message).toContain(
        'NUDGE_METRICS_TOKEN',
      );
      expect(loadConfig({ NUDGE_METRICS_TOKEN: 'scrape-token-0123456789' }).metricsToken).toBe(
        'scrape-token-0123456789',
      );
    });

    it.each(['abc', '-1', '65536', '80.5', '4000abc', ' 4000', '1e3'])(
      'PORT=%j is refused naming PORT',
      (port) => {
        expect(configErrorOf({ PORT: port }).message).toMatch(/\bPORT\b/);
      },
    );

    it.each(['virtual', 'MANUAL', '', 'fake'])(
      'NUDGE_CLOCK=%j is refused naming NUDGE_CLOCK',
      (clock) => {
        expect(configErrorOf({ NUDGE_CLOCK: clock }).message).toContain('NUDGE_CLOCK');
      },
    );

    it.each(['mysql://db/nudge', 'http://db:5432/nudge', 'db.internal:5432', 'postgres:/db'])(
      'DATABASE_URL=%j (wrong scheme) is refused naming DATABASE_URL',
      (url) => {
        expect(configErrorOf({ DATABASE_URL: url }).message).toContain('DATABASE_URL');
      },
    );

    it.each(['postgres://db/nudge', 'postgresql://db/nudge'])(
      'DATABASE_URL=%j is accepted',
      (url) => {
        expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
      },
    );

    it.each([
      ['REDIS_URL', 'http://cache:6379'],
      ['SMTP_URL', 'mailto:ops@example.com'],
      ['LOG_LEVEL', 'loud'],
      ['NUDGE_ROLE', 'both'],
      ['NUDGE_TIMER_SHARDS', '0'],
      ['NUDGE_TIMER_SHARDS', '257'],
      ['NUDGE_TIMER_LEASE_MS', '999'],
      ['NUDGE_TIMER_POLL_MS', 'fast'],
      ['NUDGE_DELIVERY_PER_TENANT', '0'],
      ['NUDGE_DELIVERY_TOTAL', '1025'],
      ['NUDGE_MAX_FUTURE_SKEW_MS', String(8 * 24 * 3_600_000)],
      ['NUDGE_REDIS_PREFIX', 'has space'],
      ['NUDGE_OPERATOR_TOKEN', 'short'],
      ['NUDGE_KEY_PEPPER', 'short'],
    ])('%s=%j is refused naming it', (name, value) => {
      expect(configErrorOf({ [name]: value }).message).toContain(name);
    });

    it('several bad variables are all named in one error', () => {
      const message = configErrorOf({
        PORT: 'x',
        NUDGE_CLOCK: 'virtual',
        DATABASE_URL: 'mysql://db',
      }).message;

      expect(message).toMatch(/\bPORT\b/);
      expect(message).toContain('NUDGE_CLOCK');
      expect(message).toContain('DATABASE_URL');
    });

    it('the error never echoes a secret value back', () => {
      const message = configErrorOf({
        NUDGE_OPERATOR_TOKEN: 'sekrit',
        NUDGE_KEY_PEPPER: 'pepperx',
      }).message;

      expect(message).not.toContain('sekrit');
      expect(message).not.toContain('pepperx');
    });
  });

  describe('production', () => {
    it('a complete production environment is accepted', () => {
      const config = loadConfig(PRODUCTION);

      expect(config).toMatchObject({ nodeEnv: 'production', clock: 'system' });
    });

    it.each([
      ['DATABASE_URL', { ...PRODUCTION, DATABASE_URL: '' }],
      ['REDIS_URL', { ...PRODUCTION, REDIS_URL: '' }],
    ])('production without %s is refused, naming it', (name, env) => {
      expect(configErrorOf(env).message).toContain(name);
    });

    it('production with neither DATABASE_URL nor REDIS_URL is refused', () => {
      const message = configErrorOf({ NODE_ENV: 'production' }).message;

      expect(message).toContain('DATABASE_URL');
      expect(message).toContain('REDIS_URL');
    });

    it('more delivery slots per tenant than in all is refused, naming both', () => {
      const message = configErrorOf({
        NUDGE_DELIVERY_PER_TENANT: '33',
        NUDGE_DELIVERY_TOTAL: '32',
      }).message;

      expect(message).toContain('NUDGE_DELIVERY_PER_TENANT');
      expect(message).toContain('NUDGE_DELIVERY_TOTAL');
    });

    it('production with the manual clock is refused, naming NUDGE_CLOCK', () => {
      expect(configErrorOf({ ...PRODUCTION, NUDGE_CLOCK: 'manual' }).message).toContain(
        'NUDGE_CLOCK',
      );
    });

    it('production without NUDGE_KEY_PEPPER is refused, naming it', () => {
      const env: Record<string, string> = { ...PRODUCTION };
      delete env.NUDGE_KEY_PEPPER;

      expect(configErrorOf(env).message).toContain('NUDGE_KEY_PEPPER');
    });

    it('a real database without NUDGE_OPERATOR_TOKEN is refused, naming it (no trial token outside trial)', () => {
      const env: Record<string, string> = { ...PRODUCTION };
      delete env.NUDGE_OPERATOR_TOKEN;

      expect(configErrorOf({ ...env, NODE_ENV: 'development' }).message).toContain(
        'NUDGE_OPERATOR_TOKEN',
      );
      expect(configErrorOf(env).message).toContain('NUDGE_OPERATOR_TOKEN');
    });
  });
  describe('channel providers and public links', () => {
    const SMS = {
      TWILIO_ACCOUNT_SID: 'AC' + '0123456789abcdef'.repeat(2),
      TWILIO_AUTH_TOKEN: 'auth-token-0123456789',
      NUDGE_SMS_FROM: '+15550001111',
    };
    // A real P-256 key pair's sizes: 65-byte public point, 32-byte private scalar.
    const PUSH = {
      VAPID_PUBLIC_KEY: Buffer.alloc(65, 4).toString('base64url'),
      VAPID_PRIVATE_KEY: Buffer.alloc(32, 7).toString('base64url'),
      VAPID_SUBJECT: 'mailto:ops@shop.example',
    };

    it('NUDGE_PUBLIC_URL is stored without its trailing slash', () => {
      expect(loadConfig({ NUDGE_PUBLIC_URL: 'https://nudge.example/' }).publicUrl).toBe(
        'https://nudge.example',
      );
      expect(loadConfig({ NUDGE_PUBLIC_URL: 'http://127.0.0.1:4000/base//' }).publicUrl).toBe(
        'http://127.0.0.1:4000/base',
      );
    });

    it.each(['ftp://nudge.example', 'nudge.example', 'https://', 'https://nudge.example/?a=1'])(
      'NUDGE_PUBLIC_URL=%j is refused naming it',
      (url) => {
        expect(configErrorOf({ NUDGE_PUBLIC_URL: url }).message).toContain('NUDGE_PUBLIC_URL');
      },
    );

    it('SMS is configured when SID, token and sender are all set (default API URL)', () => {
      expect(loadConfig(SMS).sms).toEqual({
        apiUrl: 'https://api.twilio.com',
        accountSid: SMS.TWILIO_ACCOUNT_SID,
        authToken: SMS.TWILIO_AUTH_TOKEN,
        from: '+15550001111',
      });
      expect(loadConfig({ ...SMS, NUDGE_SMS_API_URL: 'http://127.0.0.1:9999/' }).sms?.apiUrl).toBe(
        'http://127.0.0.1:9999',
      );
    });

    it.each(['TWILIO_ACCOUNT_SID', 'TWILIO_AUTH_TOKEN', 'NUDGE_SMS_FROM'] as const)(
      'SMS without %s is refused naming it (all or none)',
      (name) => {
        const env: Record<string, string> = { ...SMS };
        delete env[name];
        const message = configErrorOf(env).message;

        expect(message).toContain(`\n  ${name}: required for SMS`);
        expect(message).not.toContain(SMS.TWILIO_AUTH_TOKEN);
      },
    );

    it.each([
      ['TWILIO_ACCOUNT_SID', 'SK' + '0'.repeat(32)],
      ['TWILIO_ACCOUNT_SID', 'AC123'],
      ['NUDGE_SMS_FROM', '+1-555-0001'],
      ['NUDGE_SMS_FROM', '+0123456789'],
      ['NUDGE_SMS_FROM', 'MuchTooLongSender'],
      ['NUDGE_SMS_API_URL', 'api.twilio.com'],
    ])('%s=%j is refused naming it', (name, value) => {
      expect(configErrorOf({ ...SMS, [name]: value }).message).toContain(name);
    });

    it.each(['+4915123456789', '12345', 'NudgeShop'])('NUDGE_SMS_FROM=%j is accepted', (from) => {
      expect(loadConfig({ ...SMS, NUDGE_SMS_FROM: from }).sms?.from).toBe(from);
    });

    it('Web Push is configured when both VAPID keys and the subject are set', () => {
      expect(loadConfig(PUSH).push).toEqual({
        vapidPublicKey: PUSH.VAPID_PUBLIC_KEY,
        vapidPrivateKey: PUSH.VAPID_PRIVATE_KEY,
        subject: 'mailto:ops@shop.example',
      });
      expect(loadConfig({ ...PUSH, VAPID_SUBJECT: 'https://shop.example' }).push?.subject).toBe(
        'https://shop.example',
      );
    });

    it.each(['VAPID_PUBLIC_KEY', 'VAPID_PRIVATE_KEY', 'VAPID_SUBJECT'] as const)(
      'Web Push without %s is refused naming it (all or none)',
      (name) => {
        const env: Record<string, string> = { ...PUSH };
        delete env[name];

        expect(configErrorOf(env).message).toContain(`\n  ${name}: required for Web Push`);
      },
    );

    it.each([
      ['VAPID_PUBLIC_KEY', Buffer.alloc(33, 4).toString('base64url')],
      ['VAPID_PRIVATE_KEY', 'not base64url!'],
      ['VAPID_SUBJECT', 'http://shop.example'],
      ['VAPID_SUBJECT', 'ops@shop.example'],
    ])('%s=%j is refused naming it', (name, value) => {
      expect(configErrorOf({ ...PUSH, [name]: value }).message).toContain(name);
    });

    it('NUDGE_PROVIDER_TIMEOUT_MS accepts 100..120000', () => {
      expect(loadConfig({ NUDGE_PROVIDER_TIMEOUT_MS: '2500' }).providerTimeoutMs).toBe(2500);
      expect(configErrorOf({ NUDGE_PROVIDER_TIMEOUT_MS: '99' }).message).toContain(
        'NUDGE_PROVIDER_TIMEOUT_MS',
      );
      expect(configErrorOf({ NUDGE_PROVIDER_TIMEOUT_MS: '120001' }).message).toContain(
        'NUDGE_PROVIDER_TIMEOUT_MS',
      );
    });
  });
});
