/** Renders the dashboard's sections from API results. Nothing here fetches or keeps state. */
import type { ExperimentResults, Firing, StepMetrics, TriggerMetrics, VariantResult } from './api';
import { el, flash } from './dom';
import {
  type Counts,
  formatCount,
  formatDelta,
  formatInstant,
  formatInterval,
  formatPValue,
  formatRate,
  formatSeconds,
  formatUplift,
  formatValue,
  funnelStages,
} from './format';

/**
 * The funnel and its headline figures. `change` (a metricsUpdated delta) highlights the
 * numbers that moved and shows by how much.
 */
export function renderFunnel(
  funnel: HTMLElement,
  kpis: HTMLElement,
  totals: Counts,
  change: Counts | null,
): void {
  const moved = (key: keyof Counts) => {
    const delta = change?.[key];
    return typeof delta === 'number' && delta !== 0 ? delta : 0;
  };

  funnel.replaceChildren(
    ...funnelStages(totals).map((stage) => {
      const fill = el('div', { class: `fill fill-${stage.key}` });
      fill.style.width = `${Math.max(stage.width * 100, stage.count > 0 ? 1.5 : 0)}%`;
      const delta = moved(stage.key);
      const count = el(
        'span',
        { class: 'count', 'data-metric': stage.key },
        formatCount(stage.count),
      );
      const item = el(
        'li',
        { class: 'stage', 'data-stage': stage.key },
        el(
          'div',
          { class: 'stage-head' },
          el('span', { class: 'label' }, stage.label),
          count,
          delta !== 0 && el('span', { class: 'delta' }, formatDelta(delta)),
        ),
        el('div', { class: 'bar' }, fill),
        el('div', { class: 'rate' }, stage.rateLabel || '\u00a0'),
      );
      if (delta !== 0) flash(item);
      return item;
    }),
  );

  const reasons = totals.suppressedByReason
    .slice()
    .sort((a, b) => b.count - a.count)
    .slice(0, 3)
    .map((r) => `${r.reason} ${formatCount(r.count)}`)
    .join(' · ');
  const cards: Array<[string, keyof Counts, string, string?]> = [
    ['Activation rate', 'activationRate', formatRate(totals.activationRate), 'entries / eligible'],
    [
      'Conversion rate',
      'conversionRate',
      formatRate(totals.conversionRate),
      'conversions / entries',
    ],
    [
      'Time to convert',
      'timeToConvertMedianSeconds',
      formatSeconds(totals.timeToConvertMedianSeconds),
      `median · p90 ${formatSeconds(totals.timeToConvertP90Seconds)}`,
    ],
    ['Attributed value', 'attributedValue', formatValue(totals.attributedValue), 'goal value'],
    ['Failed', 'failed', formatCount(totals.failed), 'messages'],
    ['Suppressed', 'suppressed', formatCount(totals.suppressed), reasons || 'nothing suppressed'],
  ];
  kpis.replaceChildren(
    ...cards.map(([label, key, value, hint]) => {
      const card = el(
        'div',
        { class: 'kpi', 'data-kpi': key },
        el('div', { class: 'kpi-label' }, label),
        el('div', { class: 'kpi-value', 'data-metric': key }, value),
        hint && el('div', { class: 'kpi-hint', title: hint }, hint),
      );
      if (moved(key) !== 0) flash(card);
      return card;
    }),
  );
}

const STEP_COLUMNS: Array<[string, string, (s: StepMetrics) => string]> = [
  ['Step', 'step', (s) => String(s.step + 1)],
  ['Channel', 'channel', (s) => s.channel],
  ['Variant', 'variant', (s) => s.variant ?? '—'],
  ['Sent', 'sent', (s) => formatCount(s.counts.sent)],
  ['Delivered', 'delivered', (s) => formatCount(s.counts.delivered)],
  ['Opened', 'opened', (s) => formatCount(s.counts.opened)],
  ['Clicked', 'clicked', (s) => formatCount(s.counts.clicked)],
  ['Failed', 'failed', (s) => formatCount(s.counts.failed)],
  ['Suppressed', 'suppressed', (s) => formatCount(s.counts.suppressed)],
  ['Conversions', 'conversions', (s) => formatCount(s.counts.conversions)],
  ['Open rate', 'openRate', (s) => formatRate(ratio(s.counts.opened, s.counts.sent))],
  ['Click rate', 'clickRate', (s) => formatRate(ratio(s.counts.clicked, s.counts.sent))],
];

/** One row per step (and variant) of the trigger over the metrics' range. */
export function renderSteps(table: HTMLElement, metrics: TriggerMetrics): void {
  const steps = metrics.steps
    .slice()
    .sort((a, b) => a.step - b.step || (a.variant ?? '').localeCompare(b.variant ?? ''));
  table.replaceChildren(
    el('thead', {}, el('tr', {}, ...STEP_COLUMNS.map(([label]) => el('th', {}, label)))),
    el(
      'tbody',
      {},
      ...(steps.length === 0
        ? [el('tr', {}, el('td', { colspan: String(STEP_COLUMNS.length) }, 'No messages yet.'))]
        : steps.map((step) =>
            el(
              'tr',
              { 'data-step': String(step.step), 'data-variant': step.variant ?? '' },
              ...STEP_COLUMNS.map(([, key, value]) => el('td', { 'data-col': key }, value(step))),
            ),
          )),
    ),
  );
}

/** Days with activity the chart shows at most (the most recent ones). */
const MAX_DAYS = 60;

/** Entries and conversions per day, for the most recent days that have any. */
export function renderDaily(container: HTMLElement, metrics: TriggerMetrics): void {
  const active = metrics.buckets.filter(
    (b) => b.counts.entries > 0 || b.counts.conversions > 0 || b.counts.sent > 0,
  );
  const days = active.slice(-MAX_DAYS);
  if (days.length === 0) {
    container.replaceChildren(el('p', { class: 'muted' }, 'Nothing counted yet.'));
    return;
  }
  const highest = Math.max(1, ...days.map((d) => d.counts.entries));
  container.replaceChildren(
    el(
      'div',
      { class: 'daily-legend muted small' },
      el('span', { class: 'swatch swatch-entries' }),
      'entries ',
      el('span', { class: 'swatch swatch-conversions' }),
      'conversions',
      el(
        'span',
        { class: 'spacer' },
        active.length > days.length
          ? `the last ${days.length} of ${active.length} days with activity`
          : `${days.length} day${days.length === 1 ? '' : 's'} with activity`,
      ),
    ),
    el(
      'div',
      { class: 'daily-bars' },
      ...days.map((day) => {
        const entries = el('div', { class: 'day-entries' });
        entries.style.height = `${(day.counts.entries / highest) * 100}%`;
        const conversions = el('div', { class: 'day-conversions' });
        conversions.style.height = `${(day.counts.conversions / highest) * 100}%`;
        return el(
          'div',
          {
            class: 'day',
            title: `${day.start.slice(0, 10)}: ${day.counts.entries} entries, ${day.counts.conversions} conversions`,
          },
          entries,
          conversions,
        );
      }),
    ),
    el(
      'div',
      { class: 'daily-axis muted small' },
      el('span', {}, days[0].start.slice(0, 10)),
      days.length > 1 && el('span', {}, days[days.length - 1].start.slice(0, 10)),
    ),
  );
}

const VARIANT_COLUMNS: Array<[string, string, (v: VariantResult) => string]> = [
  ['Weight', 'weight', (v) => `${v.weight}`],
  ['Entries', 'entries', (v) => formatCount(v.entries)],
  ['Sent', 'sent', (v) => formatCount(v.sent)],
  ['Conversions', 'conversions', (v) => formatCount(v.conversions)],
  ['Conv. rate', 'conversionRate', (v) => formatRate(v.conversionRate)],
  ['Uplift', 'uplift', (v) => formatUplift(v.uplift)],
  ['95% CI', 'interval', (v) => formatInterval(v.upliftLow, v.upliftHigh)],
  ['p-value', 'pValue', (v) => formatPValue(v.pValue)],
  ['P(beat control)', 'probabilityToBeatControl', (v) => formatRate(v.probabilityToBeatControl)],
  ['Median to convert', 'medianTimeToConvert', (v) => formatSeconds(v.medianTimeToConvertSeconds)],
];

/** One table per step that runs an experiment. */
export function renderExperiments(container: HTMLElement, results: ExperimentResults[]): void {
  const running = results.filter((r) => r.status !== 'NONE' && r.variants.length > 0);
  if (running.length === 0) {
    container.replaceChildren(el('p', { class: 'muted' }, 'No step of this trigger has variants.'));
    return;
  }
  container.replaceChildren(
    ...running.map((result) =>
      el(
        'div',
        { class: 'experiment', 'data-experiment-step': String(result.step) },
        el(
          'h3',
          {},
          `Step ${result.step + 1} `,
          el(
            'span',
            { class: `badge status-${result.status.toLowerCase()}`, 'data-status': result.status },
            result.status,
          ),
          result.winner && el('span', { class: 'badge winner' }, `winner: ${result.winner}`),
          result.requiredSamplePerVariant !== null &&
            el(
              'span',
              { class: 'muted small' },
              ` needs ${formatCount(result.requiredSamplePerVariant)} entries per variant`,
            ),
        ),
        el(
          'div',
          { class: 'table-wrap' },
          el(
            'table',
            { class: 'data' },
            el(
              'thead',
              {},
              el(
                'tr',
                {},
                el('th', {}, 'Variant'),
                ...VARIANT_COLUMNS.map(([label]) => el('th', {}, label)),
              ),
            ),
            el(
              'tbody',
              {},
              ...result.variants.map((variant) =>
                el(
                  'tr',
                  {
                    'data-variant': variant.name,
                    class: variant.name === result.winner ? 'is-winner' : undefined,
                  },
                  el(
                    'td',
                    {},
                    variant.name,
                    variant.name === result.control && el('span', { class: 'tag' }, 'control'),
                    variant.isHoldout && el('span', { class: 'tag' }, 'holdout'),
                    variant.name === result.winner && el('span', { class: 'tag win' }, 'winner'),
                  ),
                  ...VARIANT_COLUMNS.map(([, key, value]) =>
                    el('td', { 'data-col': key }, value(variant)),
                  ),
                ),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

/** Prepends a firing to the live list, keeping the newest `keep`. */
export function addFiring(list: HTMLElement, firing: Firing, keep = 8): void {
  list.querySelector('li.muted')?.remove();
  const item = el(
    'li',
    {},
    el('span', { class: 'who' }, firing.customer.externalId ?? 'anonymous customer'),
    el('time', { datetime: firing.firedAt, class: 'muted small' }, formatInstant(firing.firedAt)),
  );
  list.prepend(item);
  flash(item);
  while (list.children.length > keep) list.lastElementChild?.remove();
}

function ratio(part: number, whole: number): number | null {
  return whole === 0 ? null : part / whole;
}
