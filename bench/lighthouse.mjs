// Lighthouse on the chat's home page (a first visit: the name picker over the empty chat) with
// its desktop and mobile presets, in Debian's Chromium. Usage:
// node bench/lighthouse.mjs --url http://127.0.0.1:4000 [--timeout 180]
//
// For each preset it prints, on stderr, the four category scores and every audit that cost
// points (score below 1 and a weight in its category), with Lighthouse's figure for it, and the
// audits below 1 that carry no weight (performance opportunities, for instance) on one line.
// The last line on stdout is one JSON object: { desktop: { scores, failing }, mobile: ... }.
// The whole run is bounded: past --timeout seconds Chromium is killed and the script exits 1.
import { parseArgs } from 'node:util';
import { launch } from 'chrome-launcher';
import lighthouse from 'lighthouse';
import desktopConfig from 'lighthouse/core/config/desktop-config.js';

const CHROMIUM = '/usr/bin/chromium';
const CATEGORIES = ['performance', 'accessibility', 'best-practices', 'seo'];
/** Audits with one of these modes have no score to lose (manual checks, not applicable, notes). */
const UNSCORED = new Set(['manual', 'notApplicable', 'informative', 'error']);

const { values } = parseArgs({
  options: { url: { type: 'string' }, timeout: { type: 'string', default: '180' } },
});
const base = new URL(values.url ?? 'http://127.0.0.1:4000');
if (!['127.0.0.1', 'localhost', '[::1]'].includes(base.hostname)) {
  throw new Error(`lighthouse only targets this machine, not ${base.hostname}`);
}

// chrome-launcher and Lighthouse look for the browser through CHROME_PATH.
process.env.CHROME_PATH = CHROMIUM;
const chrome = await launch({
  chromePath: CHROMIUM,
  chromeFlags: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  logLevel: 'silent',
});
// A hung page or browser must not hang the benchmark: stop everything past the deadline.
const deadline = setTimeout(() => {
  console.error(`lighthouse: no result within ${values.timeout} s; stopping`);
  chrome.kill();
  process.exit(1);
}, Number(values.timeout) * 1000);

/** The files or elements an audit names (its first few), to know where to look. */
function where(audit) {
  const items = audit.details?.items ?? [];
  const named = items.map((item) => item.url ?? item.source?.url ?? item.node?.selector).filter(Boolean);
  return [...new Set(named.map((name) => name.replace(base.origin, '')))].slice(0, 3);
}

/** One preset's scores (0 to 100) and the audits that cost points, by category. */
function summary(lhr) {
  const scores = {};
  const failing = {};
  for (const id of CATEGORIES) {
    const category = lhr.categories[id];
    scores[id] = Math.round(category.score * 100);
    failing[id] = category.auditRefs
      .map((ref) => ({ ref, audit: lhr.audits[ref.id] }))
      .filter(({ audit }) => !UNSCORED.has(audit.scoreDisplayMode) && audit.score !== null && audit.score < 1)
      .map(({ ref, audit }) => ({
        id: audit.id,
        title: audit.title,
        score: audit.score,
        weight: ref.weight,
        ...(audit.displayValue ? { value: audit.displayValue } : {}),
        where: where(audit),
      }));
  }
  return { scores, failing };
}

function print(preset, { scores, failing }) {
  console.error(`lighthouse ${preset}: ${CATEGORIES.map((id) => `${id} ${scores[id]}`).join(', ')}`);
  for (const id of CATEGORIES) {
    const weighted = failing[id].filter((audit) => audit.weight > 0);
    const unweighted = failing[id].filter((audit) => audit.weight === 0);
    const detail = (audit) =>
      (audit.value ? ` (${audit.value})` : '') + (audit.where.length ? ` [${audit.where.join(', ')}]` : '');
    for (const audit of weighted) {
      console.error(`  ${id}: ${audit.id} score ${audit.score} weight ${audit.weight}${detail(audit)}: ${audit.title}`);
    }
    if (unweighted.length) {
      console.error(`  ${id}, no weight: ${unweighted.map((audit) => audit.id + detail(audit)).join(', ')}`);
    }
  }
}

const report = {};
try {
  for (const [preset, config] of [['desktop', desktopConfig], ['mobile', undefined]]) {
    const result = await lighthouse(
      base.href,
      { port: chrome.port, logLevel: 'error', output: 'json', onlyCategories: CATEGORIES, maxWaitForLoad: 30_000 },
      config,
    );
    if (!result) throw new Error(`lighthouse ${preset}: no result`);
    if (result.lhr.runtimeError) {
      throw new Error(`lighthouse ${preset}: ${result.lhr.runtimeError.code} ${result.lhr.runtimeError.message}`);
    }
    report[preset] = summary(result.lhr);
    print(preset, report[preset]);
  }
} finally {
  clearTimeout(deadline);
  chrome.kill();
}
console.log(JSON.stringify(report));
