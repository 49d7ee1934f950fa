/* global process */
/**
 * Opt-in diagnostic for the timer workloads: where one timer fire's time goes inside the Nudge
 * engine. Preloaded into the Nudge child with `NODE_OPTIONS=--require <this file>` (plain
 * JavaScript because it loads before ts-node), it wraps, without changing src/:
 *
 * - `RedisTimerIndex.claimDue` and `ack` (Redis claim and ack, per call),
 * - `TimerProcessor.fire` (one fire: its transaction, then the post-commit effects),
 * - `EffectsApplier.apply` (post-commit: index updates, handing messages to delivery),
 * - `DeliveryService.deliver` (one webhook delivery: claim transaction, HTTP POST, settle),
 * - `pg` `Client.query`, attributed to the fire or the delivery it runs in
 *   (AsyncLocalStorage), with COMMIT counted apart,
 *
 * and, when the process exits, writes the totals as JSON to `NUDGE_BENCH_TIMER_PROBE_OUT`.
 * Each wrapper costs two clock reads, so the figures are close to an unprobed run.
 */
const Module = require('node:module');
const fs = require('node:fs');
const { AsyncLocalStorage } = require('node:async_hooks');
const { performance } = require('node:perf_hooks');

const context = new AsyncLocalStorage();
const totals = {};
const startedAt = performance.now();

function add(name, ms) {
  const entry = (totals[name] ??= { calls: 0, ms: 0 });
  entry.calls += 1;
  entry.ms += ms;
}

/** Replaces `proto[method]` by a version that times each call under `name`. */
function timeMethod(proto, method, name, scope) {
  const original = proto[method];
  if (typeof original !== 'function' || original.__probed) return;
  const wrapped = async function (...args) {
    const t0 = performance.now();
    const run = () => original.apply(this, args);
    try {
      return await (scope ? context.run({ scope }, run) : run());
    } finally {
      add(name, performance.now() - t0);
    }
  };
  wrapped.__probed = true;
  proto[method] = wrapped;
}

const patches = [
  [
    '/src/engine/timers/redis-timer-index.ts',
    'RedisTimerIndex',
    [
      ['claimDue', 'redis claimDue (per call)'],
      ['ack', 'redis ack (per call)'],
    ],
  ],
  ['/src/engine/timers/timer-processor.ts', 'TimerProcessor', [['fire', 'fire (whole)', 'fire']]],
  [
    '/src/engine/sequences/effects-applier.ts',
    'EffectsApplier',
    [['apply', 'post-commit effects (apply)']],
  ],
  [
    '/src/engine/messages/delivery.service.ts',
    'DeliveryService',
    [['deliver', 'delivery (whole)', 'delivery']],
  ],
];

let pgPatched = false;
function patchPg(pg) {
  if (pgPatched || !pg || !pg.Client) return;
  pgPatched = true;
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (config, values, callback) {
    const text = typeof config === 'string' ? config : config && config.text;
    const scope = context.getStore()?.scope ?? 'other';
    const kind = /^\s*COMMIT\b/i.test(String(text)) ? 'COMMIT' : 'statement';
    const t0 = performance.now();
    const result = original.call(this, config, values, callback);
    if (result && typeof result.then === 'function') {
      const done = () => add(`pg ${kind} in ${scope}`, performance.now() - t0);
      result.then(done, done);
    }
    return result;
  };
}

const originalLoad = Module._load;
Module._load = function (request, parent, isMain) {
  const exported = originalLoad.apply(this, arguments);
  if (request === 'pg') patchPg(exported);
  let filename = '';
  try {
    filename = Module._resolveFilename(request, parent, isMain);
  } catch {
    return exported;
  }
  for (const [suffix, className, methods] of patches) {
    if (!filename.endsWith(suffix) || !exported || !exported[className]) continue;
    for (const [method, name, scope] of methods) {
      timeMethod(exported[className].prototype, method, name, scope);
    }
  }
  return exported;
};

process.on('exit', () => {
  const out = process.env.NUDGE_BENCH_TIMER_PROBE_OUT;
  if (!out) return;
  fs.writeFileSync(out, JSON.stringify({ elapsedMs: performance.now() - startedAt, totals }));
});
