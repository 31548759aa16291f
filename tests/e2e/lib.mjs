// Shared by the e2e scripts (flows.mjs, security.mjs, pages.mjs), which
// tests/integration/test_console.py runs with `node` after making the users
// and data they start from. Each script is a list of named scenarios; run()
// runs them one by one, each with fresh browser contexts, and writes a JSON
// report (FAIRBETA_E2E_REPORT) with one entry per scenario:
//   {name, status: "pass"|"fail"|"not-run", ms, error, notes, console,
//    screenshots (taken at a failure), artifacts (screenshots kept)}
// and exits 1 when any scenario did not pass.
//
// Environment: FAIRBETA_E2E_WORLD (JSON: base URL, users with their emails,
// passwords and bearer tokens, the programs, submissions and codes made for
// the scenarios), FAIRBETA_E2E_REPORT (where the report goes),
// FAIRBETA_E2E_ONLY (comma-separated scenario names: run only those),
// FAIRBETA_E2E_HEADED=1 (show the browser).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export { assert };
export const HERE = path.dirname(fileURLToPath(import.meta.url));
export const W = JSON.parse(process.env.FAIRBETA_E2E_WORLD || '{}');
export const BASE = W.base;
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };
export const AXE = path.join(HERE, 'node_modules', 'axe-core', 'axe.min.js');
const TIMEOUT = 10000;            // one action or wait
const SCENARIO_TIMEOUT = 180000;  // one scenario, all of it

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// FAIRBETA_E2E_TRACE=1: every wait and navigation with its time, on stderr
const TRACE = process.env.FAIRBETA_E2E_TRACE === '1';
let traceT0 = Date.now();
export function trace(what, t0) {
  if (TRACE) process.stderr.write(`  [${((Date.now() - traceT0) / 1000).toFixed(1)} s] ${what}${t0 ? ` (${Date.now() - t0} ms)` : ''}\n`);
}

// what a page shows as text: its rendered text and its form fields' values
export async function shownText(page) {
  return page.evaluate(() => [document.body.innerText,
    ...[...document.querySelectorAll('input, textarea')].map((e) => e.value)].join('\n'));
}

// ---- the API, from Node, with a bearer token (setup and verification) ----

export async function api(method, p, { token, body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = 'Bearer ' + token;
  if (body !== undefined) h['Content-Type'] = 'application/json';
  const r = await fetch(BASE + p, { method, headers: h,
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
  return { status: r.status, headers: r.headers, text, json };
}

export async function apiOk(method, p, opts) {
  const r = await api(method, p, opts);
  assert.ok(r.status >= 200 && r.status < 300, `${method} ${p}: ${r.status} ${r.text.slice(0, 300)}`);
  return r.json;
}

// polls fn until it returns something truthy; fails with msg (and the last value)
export async function until(fn, msg, timeout = TIMEOUT, interval = 100) {
  const t0 = Date.now();
  const deadline = t0 + timeout;
  let last, err;
  for (;;) {
    try { last = await fn(); err = null; } catch (e) { err = e; last = undefined; }
    if (last) { trace(`until ${msg}`, t0); return last; }
    if (Date.now() >= deadline) {
      throw new Error(`${msg} (waited ${timeout} ms; last: ${err ? err.message : JSON.stringify(last)})`);
    }
    await sleep(interval);
  }
}

// ---- one scenario's browser contexts, pages and findings ----

export class T {
  constructor(browser, name) {
    this.browser = browser;
    this.name = name;
    this.contexts = [];
    this.notes = [];
    this.console = [];
    this.problems = [];      // page errors, CSP violations, requests to other origins
    this.artifacts = [];
    this.allowOrigins = new Set([new URL(BASE).origin]);
  }

  note(s) { this.notes.push(s); }

  // a fresh context (own cookies) and a page in it, desktop size by default
  async page({ viewport = DESKTOP, bypassCSP = false, label = '' } = {}) {
    const context = await this.browser.newContext({ viewport, bypassCSP, acceptDownloads: true,
      locale: 'en-GB', timezoneId: 'UTC' });
    context.setDefaultTimeout(TIMEOUT);
    this.contexts.push(context);
    // nothing is fetched from another origin: media (the artists' video URLs,
    // allowed by the CSP) is cut off quietly, anything else is a finding
    await context.route('**/*', (route) => {
      const req = route.request();
      const origin = new URL(req.url()).origin;
      if (this.allowOrigins.has(origin) || req.url().startsWith('data:')) return route.continue();
      if (req.resourceType() !== 'media') {
        this.problems.push(`request to another origin: ${req.resourceType()} ${req.url()}`);
      }
      return route.abort();
    });
    const page = await context.newPage();
    page.label = label;
    page.on('pageerror', (e) => this.problems.push(`uncaught error in the page: ${e.message}`));
    page.on('console', (m) => {
      const text = m.text();
      if (m.type() === 'error' || m.type() === 'warning') {
        this.console.push(`${label}${m.type()}: ${text}`.slice(0, 400));
      }
      if (/Content Security Policy/i.test(text)) this.problems.push(`CSP violation: ${text.slice(0, 300)}`);
    });
    return page;
  }

  async close() {
    for (const c of this.contexts) await c.close().catch(() => {});
    this.contexts = [];
  }

  // screenshots of every open page (at a failure)
  async failureShots() {
    const dir = path.join(W.screenshots, 'failures');
    fs.mkdirSync(dir, { recursive: true });
    const out = [];
    let i = 0;
    for (const c of this.contexts) {
      for (const p of c.pages()) {
        const file = path.join(dir, `${this.name}-${++i}.png`);
        try {
          await p.screenshot({ path: file, fullPage: true, timeout: 5000 });
          out.push(`${file} (${p.url()})`);
        } catch (e) {
          out.push(`(no screenshot of ${p.url()}: ${e.message.split('\n')[0]})`);
        }
      }
    }
    return out;
  }
}

// ---- the console ----

export const tid = (page, id) => page.getByTestId(id);

export async function go(page, hash) {
  const t0 = Date.now();
  await page.goto(BASE + '/' + hash);
  await page.waitForLoadState('domcontentloaded');
  trace(`go ${hash}`, t0);
}

// signs in through the sign-in form; waits until the header names the user
export async function signIn(page, who) {
  const u = typeof who === 'string' ? W.users[who] : who;
  trace(`sign in as ${u.email}`);
  await go(page, '#/signin');
  await tid(page, 'signin-email').fill(u.email);
  await tid(page, 'signin-password').fill(u.password);
  await tid(page, 'signin-submit').click();
  await until(async () => {
    const hash = await page.evaluate(() => location.hash);
    return !hash.startsWith('#/signin') && await page.getByText(u.email).or(page.getByText(u.display_name)).first().isVisible();
  }, `signed in as ${u.email}: the header shows the user`);
  return u;
}

// signs a context in by the API (cookie), faster than the form
export async function signInByApi(page, who) {
  const u = typeof who === 'string' ? W.users[who] : who;
  const r = await page.context().request.post(BASE + '/v1/sessions', {
    data: { email: u.email, password: u.password, cookie: true } });
  assert.equal(r.status(), 201, `cookie sign-in of ${u.email}: ${r.status()} ${await r.text()}`);
  return u;
}

// the status region's text (data-testid status-message), once it is non-empty
export async function statusText(page, re, msg) {
  return until(async () => {
    const t = (await tid(page, 'status-message').first().textContent()) || '';
    return re ? (re.test(t) && t) : (t.trim() && t);
  }, msg || `status message ${re || ''}`);
}

export async function visible(locator, msg) {
  try {
    await locator.first().waitFor({ state: 'visible' });
  } catch (e) {
    throw new Error(`${msg}: not visible (${e.message.split('\n')[0]})`);
  }
  return locator.first();
}

export async function bodyText(page) {
  return page.evaluate(() => document.body.innerText);
}

// hostile text shows as text: each string is in the page's text, no script ran,
// no element was made from it
export async function assertLiteral(page, strings, where) {
  // what the page shows: its text and the values of its form fields
  const text = await shownText(page);
  for (const s of strings) {
    assert.ok(text.includes(s), `${where}: "${s}" is not shown as text`);
  }
  const found = await page.evaluate(() => ({
    xss: typeof window.__xss,
    img: document.querySelectorAll('img[src="x"]').length,
    script: [...document.querySelectorAll('script')].filter((s) => (s.textContent || '').includes('__xss')).length,
    handlers: [...document.querySelectorAll('[onerror]')].length,
  }));
  assert.deepEqual(found, { xss: 'undefined', img: 0, script: 0, handlers: 0 },
    `${where}: the hostile text became markup`);
}

// axe-core's serious and critical violations on the page as it is now
export async function axeViolations(page) {
  const have = await page.evaluate(() => typeof window.axe);
  if (have !== 'object') await page.addScriptTag({ path: AXE });
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${(n.failureSummary || '').replace(/\s+/g, ' ').slice(0, 200)}`) }));
  });
  return res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

// the page scrolls sideways? returns the widest elements sticking out
export async function horizontalOverflow(page) {
  return page.evaluate(() => {
    const vw = document.documentElement.clientWidth;
    const sw = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth);
    if (sw <= vw) return null;
    const out = [];
    for (const el of document.querySelectorAll('body *')) {
      const r = el.getBoundingClientRect();
      if (r.right > vw + 1 && r.width > 0) {
        // only the outermost offenders
        let p = el.parentElement, inner = false;
        while (p && p !== document.body) {
          if (p.getBoundingClientRect().right > vw + 1) { inner = true; break; }
          p = p.parentElement;
        }
        if (!inner) out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.getAttribute('data-testid') ? '[data-testid=' + el.getAttribute('data-testid') + ']' : ''}.${[...el.classList].join('.')} right=${Math.round(r.right)}`);
      }
    }
    return { viewport: vw, scrollWidth: sw, offenders: out.slice(0, 8) };
  });
}

// ---- the runner ----

export async function run(scenarios) {
  const script = path.basename(process.argv[1]);
  const only = (process.env.FAIRBETA_E2E_ONLY || '').split(',').map((s) => s.trim()).filter(Boolean);
  const reportPath = process.env.FAIRBETA_E2E_REPORT;
  const report = { script, base: BASE, started_at: new Date().toISOString(), scenarios: [] };
  const write = () => reportPath && fs.writeFileSync(reportPath, JSON.stringify(report, null, 2));
  const browser = await chromium.launch({
    executablePath: W.chromium || '/usr/bin/chromium',
    headless: process.env.FAIRBETA_E2E_HEADED !== '1',
    // as root in CI: no sandbox; containers often have a tiny /dev/shm
    args: ['--no-sandbox', '--disable-dev-shm-usage'],
  });
  browser.version && process.stderr.write(`${script}: Chromium ${browser.version()} at ${BASE}\n`);
  let failed = 0;
  for (const [name, fn] of scenarios) {
    if (only.length && !only.includes(name)) {
      report.scenarios.push({ name, status: 'not-run', ms: 0, error: 'not in FAIRBETA_E2E_ONLY' });
      failed++;
      continue;
    }
    const t = new T(browser, name);
    const t0 = Date.now();
    traceT0 = t0;
    trace(`scenario ${name}`);
    const entry = { name, status: 'pass' };
    let timer;
    try {
      await Promise.race([
        fn(t),
        new Promise((_, rej) => { timer = setTimeout(() => rej(new Error(`scenario timed out after ${SCENARIO_TIMEOUT} ms`)), SCENARIO_TIMEOUT); }),
      ]);
      if (t.problems.length) throw new Error('found while it ran:\n  ' + [...new Set(t.problems)].join('\n  '));
    } catch (e) {
      entry.status = 'fail';
      entry.error = (e && e.stack) ? e.stack.split('\n').filter((l) => !l.includes('node_modules')).slice(0, 12).join('\n') : String(e);
      if (t.problems.length && !entry.error.includes('found while it ran')) {
        entry.error += '\nalso found while it ran:\n  ' + [...new Set(t.problems)].join('\n  ');
      }
      entry.screenshots = await t.failureShots();
      failed++;
    } finally {
      clearTimeout(timer);
      await t.close();
    }
    entry.ms = Date.now() - t0;
    entry.notes = t.notes;
    entry.console = [...new Set(t.console)].slice(0, 30);
    entry.artifacts = t.artifacts;
    report.scenarios.push(entry);
    write();
    process.stderr.write(`${entry.status.toUpperCase()} ${name} (${(entry.ms / 1000).toFixed(1)} s)` +
      (entry.status === 'pass' ? '\n' : `\n  ${entry.error.split('\n').join('\n  ')}\n`));
  }
  report.finished_at = new Date().toISOString();
  write();
  await browser.close();
  process.exit(failed ? 1 : 0);
}

// opens the closed <details> around an element, by a click on its summary
export async function reveal(el) {
  await el.waitFor({ state: 'attached' });
  for (let i = 0; i < 3; i++) {
    const closed = await el.evaluate((e) => !!e.closest('details:not([open])'));
    if (!closed) return el;
    await el.locator('xpath=ancestor::details[not(@open)][1]/summary').click();
  }
  return el;
}

// sets a form control by its data-testid: select, checkbox or text
// (a locator instead of the testid, for a field inside a region); a field in
// a closed <details> is revealed by clicking its summary, as a user would
export async function setField(page, testid, value) {
  const el = (typeof testid === 'string' ? tid(page, testid) : testid).first();
  await reveal(el);
  await el.waitFor({ state: 'visible' });
  const kind = await el.evaluate((e) => (e.tagName === 'SELECT' ? 'select' : (e.type === 'checkbox' || e.type === 'radio') ? 'check' : 'text'));
  if (kind === 'select') {
    const opts = await el.evaluate((e) => [...e.options].map((o) => [o.value, o.textContent.trim()]));
    const hit = opts.find(([v, l]) => v === String(value)) || opts.find(([v, l]) => l === String(value)) ||
      opts.find(([v, l]) => l.includes(String(value)));
    assert.ok(hit, `${typeof testid === 'string' ? testid : 'the field'}: no option ${value} among ${JSON.stringify(opts).slice(0, 300)}`);
    await el.selectOption(hit[0]);
  } else if (kind === 'check') {
    await el.setChecked(!!value);
  } else {
    await el.fill(String(value));
  }
}

export async function setFields(page, pairs) {
  for (const [k, v] of Object.entries(pairs)) await setField(page, k, v);
}

// the form's problem (data-testid <form>-error), if it shows one
export async function formError(page, formTestid) {
  const box = tid(page, `${formTestid}-error`).first();
  if (await box.count() && await box.isVisible()) return (await box.innerText()).trim();
  return null;
}

// presses Tab until the element with this data-testid has the focus
export async function tabTo(page, testid, max = 60, shift = false) {
  for (let i = 0; i < max; i++) {
    const at = await page.evaluate(() => document.activeElement && document.activeElement.getAttribute('data-testid'));
    if (at === testid) return;
    await page.keyboard.press(shift ? 'Shift+Tab' : 'Tab');
  }
  const at = await page.evaluate(() => document.activeElement && document.activeElement.outerHTML.slice(0, 200));
  throw new Error(`${testid} not reached with ${max} presses of Tab (focus: ${at})`);
}

export async function focusedTestid(page) {
  return page.evaluate(() => document.activeElement && document.activeElement.getAttribute('data-testid'));
}

// the hash part of the page's address
export async function hash(page) {
  return page.evaluate(() => location.hash);
}

export async function waitHash(page, re, msg) {
  return until(async () => { const h = await hash(page); return re.test(h) && h; }, msg || `address matching ${re}`);
}

export async function shot(t, page, name) {
  const file = path.join(W.screenshots, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  t.artifacts.push(file);
  return file;
}

// every page of a list from the API (bearer token)
export async function listAll(p, token, max = 5000) {
  const out = [];
  let cursor = null;
  do {
    const sep = p.includes('?') ? '&' : '?';
    const r = await apiOk('GET', `${p}${sep}limit=200${cursor ? '&cursor=' + encodeURIComponent(cursor) : ''}`, { token });
    out.push(...r.items);
    cursor = r.next_cursor;
  } while (cursor && out.length < max);
  return out;
}
