/**
 * The dashboard at /dashboard: sign in with an API key, pick a trigger, watch its funnel move
 * live (metricsUpdated), and read its per-step figures and experiment results.
 */
import type { Client } from 'graphql-ws';
import {
  ApiError,
  EXPERIMENT_RESULTS_QUERY,
  type ExperimentResults,
  type Firing,
  METRICS_UPDATED_SUBSCRIPTION,
  type MetricsUpdate,
  SIGN_IN_QUERY,
  type SignInResult,
  TRIGGER_FIRED_SUBSCRIPTION,
  TRIGGER_METRICS_QUERY,
  type TriggerMetrics,
  type TriggerSummary,
  errorOf,
  isCloseEvent,
  liveClient,
  request,
} from './api';
import { byId, el, showMessage } from './dom';
import { formatInstant } from './format';
import { addFiring, renderDaily, renderExperiments, renderFunnel, renderSteps } from './view';

/** sessionStorage only: the key dies with the tab and never reaches another origin. */
const STORAGE_KEY = 'nudge.dashboard.apiKey';

const MAX_RANGE_MS = 3 * 365 * 24 * 3600 * 1000;

interface Session {
  apiKey: string;
  triggers: TriggerSummary[];
  live: Client;
}

interface Watch {
  trigger: TriggerSummary;
  dispose: Array<() => void>;
  /** The newest `at` whose per-step figures are still to be fetched. */
  pendingAt: string | null;
  isFetching: boolean;
}

class Dashboard {
  private session: Session | null = null;
  private watch: Watch | null = null;

  private readonly form = byId<HTMLFormElement>('sign-in-form');
  private readonly keyInput = byId<HTMLInputElement>('api-key');
  private readonly signInButton = byId<HTMLButtonElement>('sign-in-button');
  private readonly signInError = byId('sign-in-error');
  private readonly boardError = byId('board-error');
  private readonly picker = byId<HTMLSelectElement>('trigger-picker');
  private readonly liveStatus = byId('live-status');

  start(): void {
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      void this.signIn(this.keyInput.value.trim());
    });
    byId('sign-out').addEventListener('click', () => this.signOut());
    this.picker.addEventListener('change', () => this.selectTrigger(this.picker.value));

    const stored = sessionStorage.getItem(STORAGE_KEY);
    if (stored) void this.signIn(stored);
  }

  private async signIn(apiKey: string): Promise<void> {
    if (apiKey.length === 0) return;
    this.signInButton.disabled = true;
    showMessage(this.signInError, null);
    let result: SignInResult;
    try {
      result = await request<SignInResult>(apiKey, SIGN_IN_QUERY);
    } catch (err) {
      // A network failure keeps a stored key for the next try; a refused key is dropped.
      if (err instanceof ApiError && err.kind !== 'network') sessionStorage.removeItem(STORAGE_KEY);
      showMessage(this.signInError, messageOf(err));
      this.signInButton.disabled = false;
      this.keyInput.focus();
      return;
    }
    sessionStorage.setItem(STORAGE_KEY, apiKey);
    this.keyInput.value = '';
    this.signInButton.disabled = false;

    const triggers = result.triggers.edges.map((edge) => edge.node);
    const live = liveClient(apiKey, {
      onConnected: () => this.setLive('live', 'live'),
      onClosed: (code) => this.onLiveClosed(code),
    });
    this.session = { apiKey, triggers, live };
    this.setLive('connecting', 'connecting');
    byId('tenant-name').textContent = result.tenant.name;
    byId('session').hidden = false;
    byId('sign-in').hidden = true;
    byId('board').hidden = false;
    showMessage(this.boardError, null);

    this.picker.replaceChildren(
      ...triggers.map((t) =>
        el('option', { value: t.id }, `${t.name} (${t.status.toLowerCase()})`),
      ),
    );
    if (triggers.length === 0) {
      this.picker.append(el('option', { value: '' }, 'No triggers yet'));
      showMessage(this.boardError, 'This tenant has no triggers yet: create one through the API.');
      return;
    }
    const wanted = new URLSearchParams(location.hash.slice(1)).get('trigger');
    const first = triggers.find((t) => t.id === wanted) ?? triggers[0];
    this.picker.value = first.id;
    this.selectTrigger(first.id);
  }

  private signOut(): void {
    this.unwatch();
    void this.session?.live.dispose();
    this.session = null;
    sessionStorage.removeItem(STORAGE_KEY);
    byId('session').hidden = true;
    byId('board').hidden = true;
    byId('sign-in').hidden = false;
    this.setLive('off', 'offline');
    this.keyInput.focus();
  }

  private selectTrigger(triggerId: string): void {
    const session = this.session;
    const trigger = session?.triggers.find((t) => t.id === triggerId);
    if (!session || !trigger) return;
    this.unwatch();
    history.replaceState(null, '', `#trigger=${encodeURIComponent(trigger.id)}`);
    byId('trigger-info').textContent =
      `on ${trigger.event} · ${trigger.steps.length} step${trigger.steps.length === 1 ? '' : 's'}`;
    byId('updated-at').textContent = '—';
    byId('updated-received').textContent = '';
    byId('funnel').replaceChildren(el('li', { class: 'muted' }, 'Waiting for live metrics…'));
    byId('kpis').replaceChildren();
    byId('steps').replaceChildren();
    byId('daily').replaceChildren();
    byId('experiments').replaceChildren();
    byId('firings').replaceChildren(el('li', { class: 'muted' }, 'Waiting for the next firing…'));
    showMessage(this.boardError, null);

    const watch: Watch = { trigger, dispose: [], pendingAt: null, isFetching: false };
    this.watch = watch;
    watch.dispose.push(
      session.live.subscribe<{ metricsUpdated: MetricsUpdate }>(
        { query: METRICS_UPDATED_SUBSCRIPTION, variables: { triggerId } },
        {
          next: (result) => {
            if (result.errors?.length) return this.liveError(errorOf(result.errors));
            if (result.data && this.watch === watch)
              this.onMetrics(watch, result.data.metricsUpdated);
          },
          error: (err) => this.liveError(err),
          complete: () => undefined,
        },
      ),
      session.live.subscribe<{ triggerFired: Firing }>(
        { query: TRIGGER_FIRED_SUBSCRIPTION, variables: { triggerId } },
        {
          next: (result) => {
            if (result.data && this.watch === watch)
              addFiring(byId('firings'), result.data.triggerFired);
          },
          error: (err) => this.liveError(err),
          complete: () => undefined,
        },
      ),
    );
  }

  private unwatch(): void {
    for (const dispose of this.watch?.dispose ?? []) dispose();
    this.watch = null;
  }

  private onMetrics(watch: Watch, update: MetricsUpdate): void {
    renderFunnel(byId('funnel'), byId('kpis'), update.totals, update.change);
    const updatedAt = byId('updated-at');
    updatedAt.textContent = formatInstant(update.at);
    updatedAt.setAttribute('datetime', update.at);
    byId('updated-received').textContent = `(received ${new Date().toLocaleTimeString()})`;
    watch.pendingAt = update.at;
    void this.fetchDetails(watch);
  }

  /**
   * Per-step figures and experiment results as of the latest update. One fetch at a time: an
   * update arriving meanwhile is fetched right after, and only the newest of them.
   */
  private async fetchDetails(watch: Watch): Promise<void> {
    const session = this.session;
    if (!session || watch.isFetching || watch.pendingAt === null) return;
    const at = watch.pendingAt;
    watch.pendingAt = null;
    watch.isFetching = true;
    const { trigger } = watch;
    // Totals count by when things happened; up to and including the update's instant they
    // are the all-time totals the funnel shows.
    const toMs = Date.parse(at) + 1;
    // triggerMetrics refuses DAY ranges over 3 years; older history stays in the funnel only.
    const fromMs = Math.max(Date.parse(trigger.createdAt), toMs - MAX_RANGE_MS);
    // Every step: a promoted winner leaves its step without variants, and its results stay.
    const experimentSteps = trigger.steps.map((_, index) => index);
    const [metrics, experiments] = await Promise.allSettled([
      request<{ triggerMetrics: TriggerMetrics }>(session.apiKey, TRIGGER_METRICS_QUERY, {
        triggerId: trigger.id,
        from: new Date(fromMs).toISOString(),
        to: new Date(toMs).toISOString(),
      }),
      Promise.all(
        experimentSteps.map((step) =>
          request<{ experimentResults: ExperimentResults }>(
            session.apiKey,
            EXPERIMENT_RESULTS_QUERY,
            { triggerId: trigger.id, step },
          ).then((data) => data.experimentResults),
        ),
      ),
    ]);
    watch.isFetching = false;
    if (this.watch !== watch) return;

    const stepsNotice = byId('steps-notice');
    if (metrics.status === 'fulfilled') {
      showMessage(stepsNotice, null);
      renderSteps(byId('steps'), metrics.value.triggerMetrics);
      renderDaily(byId('daily'), metrics.value.triggerMetrics);
    } else {
      showMessage(stepsNotice, `Per-step figures unavailable: ${messageOf(metrics.reason)}`);
    }
    const experimentsNotice = byId('experiments-notice');
    if (experiments.status === 'fulfilled') {
      showMessage(experimentsNotice, null);
      renderExperiments(byId('experiments'), experiments.value);
    } else {
      showMessage(
        experimentsNotice,
        `Experiment results unavailable: ${messageOf(experiments.reason)}`,
      );
    }
    if (watch.pendingAt !== null) void this.fetchDetails(watch);
  }

  private liveError(err: unknown): void {
    const error = Array.isArray(err) ? errorOf(err) : err;
    showMessage(this.boardError, `Live updates stopped: ${messageOf(error)}`);
  }

  private onLiveClosed(code: number | null): void {
    if (!this.session) return;
    if (code === 4403) {
      sessionStorage.removeItem(STORAGE_KEY);
      this.setLive('off', 'refused');
      showMessage(
        this.boardError,
        'The live connection was refused: this API key was revoked or may not read.',
      );
      return;
    }
    this.setLive('connecting', 'reconnecting');
  }

  private setLive(state: 'live' | 'connecting' | 'off', label: string): void {
    this.liveStatus.className = `pill pill-${state}`;
    this.liveStatus.textContent = label;
  }
}

function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.message;
  if (isCloseEvent(err)) {
    if (err.code === 4403) return 'this API key was revoked or may not read.';
    return `the live connection closed (code ${err.code}); reload to retry.`;
  }
  if (err instanceof Error) return err.message;
  return 'something went wrong; reload to retry.';
}

document.addEventListener('DOMContentLoaded', () => new Dashboard().start());
