// Load for one cell. The runner passes everything through -e:
//   MODEL   closed: constant-vus, each VU sends its next request when the previous one answered
//                   (like the origin README's 50-VU runs);
//           open:   constant-arrival-rate, RATE requests/s started whatever the latency (no
//                   coordinated omission); requests k6 could not start are `dropped`.
//   URL, METHOD, BODY_FILE (the request body, when the workload has one), HEADERS (a JSON object),
//   VUS (closed: VUs; open: VU pool), RATE, DURATION, WARMUP, SUMMARY (output path).
// A warm-up scenario runs first; only the `measure` scenario's requests enter the numbers.
import http from 'k6/http';
import { check } from 'k6';

const URL = __ENV.URL;
const METHOD = __ENV.METHOD || 'GET';
const BODY = __ENV.BODY_FILE ? open(__ENV.BODY_FILE, 'b') : null;
const HEADERS = JSON.parse(__ENV.HEADERS || '{}');
const MODEL = __ENV.MODEL || 'closed';
const VUS = parseInt(__ENV.VUS || '50', 10);
const RATE = parseInt(__ENV.RATE || '0', 10);
const DURATION = __ENV.DURATION || '8s';
const WARMUP = __ENV.WARMUP || '0s';
const MEASURE = '{scenario:measure}';

function scenario(duration, startTime, gracefulStop) {
  if (MODEL === 'open') {
    return { executor: 'constant-arrival-rate', rate: RATE, timeUnit: '1s', duration, startTime, gracefulStop,
      preAllocatedVUs: VUS, maxVUs: VUS };
  }
  return { executor: 'constant-vus', vus: VUS, duration, startTime, gracefulStop };
}

const scenarios = { measure: scenario(DURATION, WARMUP, '5s') };
if (WARMUP !== '0s') scenarios.warmup = scenario(WARMUP, '0s', '0s');

const phases = ['http_req_duration', 'http_req_blocked', 'http_req_connecting', 'http_req_sending',
  'http_req_waiting', 'http_req_receiving'];
const thresholds = { [`http_reqs${MEASURE}`]: ['count>=0'], [`http_req_failed${MEASURE}`]: ['rate>=0'],
  [`checks${MEASURE}`]: ['rate>=0'], [`dropped_iterations${MEASURE}`]: ['count>=0'] };
// Thresholds on the measure scenario make k6 keep those submetrics in the summary.
for (const p of phases) thresholds[`${p}${MEASURE}`] = ['max>=0'];

export const options = {
  scenarios,
  thresholds,
  discardResponseBodies: true,
  summaryTrendStats: ['avg', 'min', 'med', 'max', 'p(90)', 'p(95)', 'p(99)', 'p(99.9)'],
  noConnectionReuse: false,
};

export default function () {
  const res = http.request(METHOD, URL, BODY, { headers: HEADERS });
  check(res, { 'status is 2xx': (r) => r.status >= 200 && r.status < 300 });
}

function trend(data, name) {
  const m = data.metrics[`${name}${MEASURE}`];
  if (!m) return null;
  const v = m.values;
  return { avg: v.avg, min: v.min, med: v.med, max: v.max, p90: v['p(90)'], p95: v['p(95)'], p99: v['p(99)'],
    p999: v['p(99.9)'] };
}

// The runner reads this file: a small, stable schema instead of k6's whole summary.
export function handleSummary(data) {
  const reqs = data.metrics[`http_reqs${MEASURE}`];
  const failed = data.metrics[`http_req_failed${MEASURE}`];
  const checks = data.metrics[`checks${MEASURE}`];
  const dropped = data.metrics[`dropped_iterations${MEASURE}`];
  const summary = {
    schema: 'wasm-bench/k6-summary/1',
    model: MODEL,
    vus: VUS,
    rate: RATE,
    dropped: dropped ? dropped.values.count : 0,
    requests: reqs ? reqs.values.count : 0,
    failed_rate: failed ? failed.values.rate : 1,
    checks_passed_rate: checks ? checks.values.rate : 0,
    duration_ms: trend(data, 'http_req_duration'),
    blocked_ms: trend(data, 'http_req_blocked'),
    connecting_ms: trend(data, 'http_req_connecting'),
    sending_ms: trend(data, 'http_req_sending'),
    waiting_ms: trend(data, 'http_req_waiting'),
    receiving_ms: trend(data, 'http_req_receiving'),
  };
  return { [__ENV.SUMMARY]: JSON.stringify(summary, null, 2) };
}
