import path from 'node:path';
import { createPubSub } from '@graphql-yoga/subscription';
import { ManualClock, SystemClock, type Clock } from './clock';
import type { Config } from './config';
import { createLogger, type Logger } from './logger';
import { Database } from './platform/database';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './platform/embedded-postgres';
import { connectRedis, type Redis } from './platform/redis';
import { MemoryBus, RedisBus, type Bus } from './platform/bus';
import { API_KEY_REVOKED, ApiKeyService } from './tenancy/api-key.service';
import { TenantService } from './tenancy/tenant.service';
import { TriggerCatalog } from './engine/triggers/trigger-catalog';
import { TRIGGERS_CHANGED, TriggerService } from './engine/triggers/trigger.service';
import { EnrollmentEngine } from './engine/sequences/enrollment.engine';
import { StepEngine } from './engine/sequences/step.engine';
import { EffectsApplier, TRIGGER_FIRED } from './engine/sequences/effects-applier';
import type { Firing } from './engine/sequences/effects';
import { buildChannelAdapters } from './engine/channels/adapters';
import type { ChannelAdapter } from './engine/channels/channel';
import { OutboundGuard, type AddressResolver } from './engine/channels/outbound-guard';
import { DeliveryService } from './engine/messages/delivery.service';
import { DeliveryQueue } from './engine/messages/delivery-queue';
import { MessageService } from './engine/messages/message.service';
import { CustomerService } from './engine/ingestion/customer.service';
import { IngestService } from './engine/ingestion/ingest.service';
import { IdentityResolver } from './engine/ingestion/identity';
import { ReactionRunner } from './engine/sequences/reaction-runner';
import { GoalEngine } from './engine/sequences/goal.engine';
import { DeliveryWatchdog } from './engine/messages/delivery-watchdog';
import { DecisionService } from './engine/decisions/decision.service';
import { SimulationService } from './engine/simulation/simulation.service';
import { BehaviorImpactService } from './engine/impact/behavior-impact.service';
import { TemplatePreviewService } from './engine/channels/template-preview.service';
import { ConsentService } from './engine/consent/consent.service';
import { PushSubscriptionService } from './engine/consent/push-subscription.service';
import { MetricsService } from './engine/metrics/metrics.service';
import { MetricsFeed } from './engine/metrics/metrics-feed';
import { MetricsCompactor } from './engine/metrics/metrics-compactor';
import { ExperimentService } from './engine/experiments/experiment.service';
import { EngagementService } from './engine/engagement/engagement.service';
import { MemoryTimerIndex } from './engine/timers/memory-timer-index';
import { RedisTimerIndex } from './engine/timers/redis-timer-index';
import type { TimerIndex } from './engine/timers/timer-index';
import { TimerProcessor } from './engine/timers/timer-processor';
import { TimerRunner } from './engine/timers/timer-runner';
import { ClockService } from './engine/timers/clock.service';
import { buildNudgeSchema } from './schema/build-schema';
import { TRIGGER_FIRED_TOPIC } from './resolvers/trigger.resolver';
import { Authenticator } from './server/authenticator';
import { startHttpServer } from './server/http-server';
import { HttpMetrics } from './server/metrics-route';
import { OperatorMetrics } from './platform/operator-metrics';
import {
  instrumentIngest,
  instrumentTimerIndex,
  instrumentTimerProcessor,
  pendingTimerCount,
  timedAdapter,
} from './platform/instrumentation';
import { startMetricAlerts, type MetricAlerts } from './engine/alerts/metric-alerts.module';
import { METRIC_ALERT } from './engine/alerts/alert-evaluator';
import { METRIC_ALERT_TOPIC } from './resolvers/alert.resolver';
import type { Services } from './services';

export interface StartOptions {
  log?: Logger;
  /** Replace the channel adapters (tests point them at local peers). */
  channels?: ChannelAdapter[];
  /**
   * Replace DNS for tenant-controlled targets (webhook URLs, push endpoints): tests give
   * names to local peers. Default `dns.lookup`.
   */
  outboundResolver?: AddressResolver;
}

export interface Nudge {
  url: string;
  port: number;
  config: Readonly<Config>;
  clock: Clock;
  db: Database;
  services: Services;
  timers: TimerRunner;
  timerIndex: TimerIndex;
  /** True when running on embedded PostgreSQL and/or in-process Redis stand-ins. */
  isTrial: boolean;
  /** Metric alerts (issue #5): `settled()` waits for pending evaluations and webhooks. */
  alerts: MetricAlerts;
  /** The operator's Prometheus registry behind `GET /metrics`. */
  metrics: OperatorMetrics;
  stop(): Promise<void>;
}

/**
 * The composition root: builds every service from the configuration, applies migrations,
 * rebuilds the timer index from PostgreSQL, starts the timer loop and the HTTP/WebSocket
 * server. The same code path runs in trial mode (embedded stand-ins) and in production.
 */
export async function startNudge(
  config: Readonly<Config>,
  options: StartOptions = {},
): Promise<Nudge> {
  const log = options.log ?? createLogger(config.logLevel);
  const isTrial = config.databaseUrl === null || config.redisUrl === null;
  if (isTrial) {
    log.warn(
      {
        mode: 'trial',
        postgres: config.databaseUrl
          ? 'DATABASE_URL'
          : `embedded (${path.resolve(config.dataDir, 'pg')})`,
        redis: config.redisUrl ? 'REDIS_URL' : 'in-process stand-ins',
      },
      'trial mode: single process only, not for production; ' +
        'set DATABASE_URL and REDIS_URL to run for real',
    );
  }

  const closers: Array<() => Promise<unknown>> = [];
  const closeAll = async () => {
    for (const close of closers.reverse())
      await close().catch((err: Error) => log.warn({ err }, 'shutdown step failed'));
  };

  try {
    let embedded: EmbeddedPostgres | null = null;
    if (!config.databaseUrl) {
      embedded = await startEmbeddedPostgres(config.dataDir);
      closers.push(() => embedded!.stop());
    }
    const db = await Database.connect({
      url: config.databaseUrl ?? embedded!.url,
      // PGlite is one single-threaded backend behind its socket server; concurrent
      // connection start-up there has failed with "portal does not exist", so trial mode
      // funnels every query through one connection.
      poolSize: embedded ? 1 : config.dbPoolSize,
    });
    closers.push(() => db.close());
    const applied = await db.migrate();
    if (applied.length) log.info({ migrations: applied }, 'migrations applied');

    let redis: Redis | null = null;
    let bus: Bus;
    let timerIndex: TimerIndex;
    if (config.redisUrl) {
      // Refuses a Redis that may evict Nudge's keys, unless the operator allows it (C23).
      redis = await connectRedis(config.redisUrl, (err) => log.error({ err }, 'redis error'), {
        allowEviction: config.redisAllowEviction,
        log,
      });
      closers.push(async () => redis!.destroy());
      bus = new RedisBus(redis, config.redisPrefix);
      timerIndex = new RedisTimerIndex(redis, config.redisPrefix, config.timerShards);
    } else {
      bus = new MemoryBus();
      timerIndex = new MemoryTimerIndex(config.timerShards);
    }
    closers.push(() => bus.close());

    const clock: Clock = config.clock === 'manual' ? new ManualClock() : new SystemClock();
    const catalog = new TriggerCatalog();
    const enrollments = new EnrollmentEngine(catalog, new GoalEngine(catalog));
    const identity = new IdentityResolver();
    const steps = new StepEngine(catalog);
    const outboxDir = path.resolve(config.dataDir, 'outbox');
    const timeoutMs = config.providerTimeoutMs;
    const outbound = new OutboundGuard(config.outboundPrivate, options.outboundResolver);
    const metrics = new OperatorMetrics(() => pendingTimerCount(db));
    const channels =
      options.channels ??
      buildChannelAdapters({
        email: { smtpUrl: config.smtpUrl, outboxDir, from: config.emailFrom },
        sms: config.sms && { ...config.sms, timeoutMs },
        push: config.push && { ...config.push, timeoutMs },
        webhookTimeoutMs: timeoutMs,
        outboxDir,
        outbound,
      });
    const delivery = new DeliveryService(
      db,
      clock,
      channels.map((adapter) => timedAdapter(adapter, metrics)),
      timerIndex,
      { publicUrl: config.publicUrl, providerTimeoutMs: config.providerTimeoutMs },
      log,
    );
    closers.push(() => delivery.close());
    const deliveries = new DeliveryQueue(
      delivery,
      { perTenant: config.deliveryPerTenant, total: config.deliveryTotal },
      log,
    );
    closers.push(() => deliveries.drain());
    const applier = new EffectsApplier(timerIndex, deliveries, bus, log, clock.kind === 'manual');
    const watchdog = new DeliveryWatchdog(delivery.idempotentChannels());
    const processor = new TimerProcessor(db, clock, enrollments, steps, watchdog, applier, log);
    instrumentTimerIndex(timerIndex, metrics);
    instrumentTimerProcessor(processor, metrics);
    const timers = new TimerRunner(
      db,
      timerIndex,
      processor,
      clock,
      {
        leaseMs: config.timerLeaseMs,
        pollMs: config.timerPollMs,
        sweepMs: 10_000,
        claimBatch: 200,
        concurrency: config.timerConcurrency,
      },
      log,
      deliveries,
    );
    const reactions = new ReactionRunner(db, applier, timers);

    const apiKeys = new ApiKeyService(db, config.keyPepper, bus);
    const alerts = await startMetricAlerts({
      db,
      clock,
      bus,
      outbound,
      log,
      listenUrl: embedded ? null : config.databaseUrl,
      isEvaluating: config.role !== 'api',
      webhookTimeoutMs: timeoutMs,
      events: (tenantId) => pubSub.subscribe(METRIC_ALERT_TOPIC, tenantId),
    });
    closers.push(() => alerts.close());
    const metricsService = new MetricsService(db);
    const metricsFeed = new MetricsFeed(
      metricsService,
      { pollMs: 250, minGapMs: 1_000, nowMs: () => clock.nowMs() },
      log,
    );
    closers.push(async () => metricsFeed.close());
    const triggers = new TriggerService(db, clock, bus, catalog);
    const services: Services = {
      tenants: new TenantService(db, apiKeys, outbound),
      apiKeys,
      customers: new CustomerService(db, clock, identity, enrollments, reactions),
      ingest: new IngestService(clock, reactions, enrollments, identity, config.maxFutureSkewMs),
      triggers,
      messages: new MessageService(db),
      clock: new ClockService(clock, timers),
      decisions: new DecisionService(db),
      simulations: new SimulationService(db),
      templates: new TemplatePreviewService(db, clock),
      consents: new ConsentService(db, clock, config.maxFutureSkewMs),
      pushSubscriptions: new PushSubscriptionService(db, clock, outbound),
      metrics: metricsService,
      metricsFeed,
      behaviorImpact: new BehaviorImpactService(db, clock),
      alerts: alerts.service,
      experiments: new ExperimentService(db, clock, triggers),
    };

    instrumentIngest(services.ingest, metrics);

    const pubSub = createPubSub();
    await bus.subscribe(TRIGGERS_CHANGED, (payload) => {
      const { tenantId, triggerId } = payload as { tenantId: string; triggerId?: string };
      catalog.invalidate(tenantId, triggerId);
    });
    await bus.subscribe(TRIGGER_FIRED, (payload) => {
      const firing = payload as Firing;
      pubSub.publish(TRIGGER_FIRED_TOPIC, firing.tenantId, firing);
    });
    await bus.subscribe(METRIC_ALERT, (payload) => {
      pubSub.publish(METRIC_ALERT_TOPIC, (payload as { tenantId: string }).tenantId, payload);
    });

    const indexed = await timers.rebuildIndex();
    log.info({ count: indexed }, 'timer index rebuilt from PostgreSQL');
    if (config.role !== 'api') {
      timers.start();
      closers.push(() => timers.stop());
      const compactor = new MetricsCompactor(db, 5_000, log);
      compactor.start();
      closers.push(() => compactor.stop());
    }

    const schema = await buildNudgeSchema(pubSub);
    const authenticator = new Authenticator(config.operatorToken, apiKeys, log);
    const http = await startHttpServer(
      {
        schema,
        authenticator,
        log,
        isProduction: config.nodeEnv === 'production',
        engagement: {
          engagement: new EngagementService(db, clock, log),
          publicUrl: config.publicUrl,
          smsAuthToken: config.sms?.authToken ?? null,
        },
        metrics: new HttpMetrics(metrics, config.metricsToken ?? config.operatorToken),
        health: async () => {
          await db.ping();
          if (redis) await redis.ping();
          return true;
        },
        makeContext: (requestId, reqLog, principal) => ({
          requestId,
          log: reqLog,
          principal,
          services,
        }),
      },
      config.host,
      config.port,
    );
    closers.push(() => http.stop());
    await bus.subscribe(API_KEY_REVOKED, (payload) => {
      const { apiKeyId } = payload as { apiKeyId: string };
      apiKeys.forget(apiKeyId);
      http.closeConnectionsOfKey(apiKeyId);
    });
    const address = http.server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    const url = `http://${config.host}:${port}/graphql`;
    log.info(
      { url, clock: clock.kind, role: config.role, outboundPrivate: config.outboundPrivate },
      'nudge listening',
    );

    return {
      url,
      port,
      config,
      clock,
      db,
      services,
      timers,
      timerIndex,
      isTrial,
      alerts,
      metrics,
      stop: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
