import type { ApiKeyService } from './tenancy/api-key.service';
import type { TenantService } from './tenancy/tenant.service';
import type { CustomerService } from './engine/ingestion/customer.service';
import type { IngestService } from './engine/ingestion/ingest.service';
import type { TriggerService } from './engine/triggers/trigger.service';
import type { MessageService } from './engine/messages/message.service';
import type { ClockService } from './engine/timers/clock.service';
import type { DecisionService } from './engine/decisions/decision.service';
import type { SimulationService } from './engine/simulation/simulation.service';
import type { TemplatePreviewService } from './engine/channels/template-preview.service';
import type { ConsentService } from './engine/consent/consent.service';
import type { PushSubscriptionService } from './engine/consent/push-subscription.service';
import type { MetricAlertService } from './engine/alerts/metric-alert.service';
import type { MetricsService } from './engine/metrics/metrics.service';
import type { MetricsFeed } from './engine/metrics/metrics-feed';
import type { BehaviorImpactService } from './engine/impact/behavior-impact.service';
import type { ExperimentService } from './engine/experiments/experiment.service';

/** The services resolvers may call; wired once in `app.ts`. */
export interface Services {
  tenants: TenantService;
  apiKeys: ApiKeyService;
  customers: CustomerService;
  ingest: IngestService;
  triggers: TriggerService;
  messages: MessageService;
  clock: ClockService;
  decisions: DecisionService;
  simulations: SimulationService;
  templates: TemplatePreviewService;
  consents: ConsentService;
  pushSubscriptions: PushSubscriptionService;
  alerts: MetricAlertService;
  metrics: MetricsService;
  metricsFeed: MetricsFeed;
  behaviorImpact: BehaviorImpactService;
  experiments: ExperimentService;
}
