// Every main page of the console, per role, at a laptop's width (1280x800)
// and a phone's (390x844): a full-page screenshot of each under
// build/screenshots/<page>-desktop.png and <page>-phone.png, axe-core's
// check (no serious or critical violation; at the laptop's width), no
// horizontal scrolling of the page at 390 px, a <title> of its own, and no
// stray "undefined", "NaN", "[object Object]" or lone "null" in its text. Each scenario visits all of a role's pages and fails
// at the end with everything it found.

import {
  W, assert, api, run, tid, go, signInByApi, visible, until, sleep, hash, setField,
  axeViolations, horizontalOverflow, DESKTOP, PHONE, trace,
} from './lib.mjs';
import path from 'node:path';

const tok = (n) => W.users[n].token;

async function settled(page) {
  await visible(tid(page, 'page-title'), `the page title of ${await hash(page)}`);
  await until(async () => (await page.locator('main .loading').count()) === 0, `${await hash(page)} still loading`);
  await page.evaluate(() => document.fonts && document.fonts.ready);
  await sleep(200);
}

// checks the page as it is now; findings go to `found`
async function check(t, page, name, size, found) {
  const file = path.join(W.screenshots, `${name}-${size}.png`);
  let t0 = Date.now();
  await page.screenshot({ path: file, fullPage: true });
  trace(`screenshot ${name}-${size}`, t0);
  t.artifacts.push(file);
  // axe at the laptop's width (the same markup at both; it is the slow part)
  t0 = Date.now();
  const violations = size === 'desktop' ? await axeViolations(page) : [];
  trace(`axe ${name}-${size}`, t0);
  for (const v of violations) {
    found.push(`${name} (${size}): axe ${v.impact} ${v.id}: ${v.help}\n      ${v.nodes.join('\n      ')}`);
  }
  // programming slips that reach the page as text
  const stray = await page.evaluate(() => {
    const out = [];
    const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walk.nextNode(); n; n = walk.nextNode()) {
      const text = n.textContent.trim();
      if (n.parentElement && n.parentElement.closest('pre, code')) continue;   // JSON shown as JSON
      if (/^null$|\bundefined\b|\bNaN\b|\[object \w+\]|Invalid Date/.test(text)) out.push(text.slice(0, 80));
    }
    return out;
  });
  if (stray.length) found.push(`${name} (${size}): stray text ${JSON.stringify(stray)}`);
  if (size === 'phone') {
    const o = await horizontalOverflow(page);
    if (o) found.push(`${name} (phone): scrolls sideways, ${o.scrollWidth} px wide in ${o.viewport} px: ${o.offenders.join('; ')}`);
  }
  const title = await page.title();
  if (!title || title === 'fairbeta') found.push(`${name} (${size}): no page title of its own (<title> "${title}")`);
}

// pages: [name, hash, optional action(page) after it rendered, optional cleanup]
async function role(t, who, pages) {
  const found = [];
  for (const [size, viewport] of [['desktop', DESKTOP], ['phone', PHONE]]) {
    // axe runs injected: the page's CSP would refuse the script
    const page = await t.page({ viewport, bypassCSP: true, label: `${size} ` });
    if (who) await signInByApi(page, who);
    for (const [name, where, action, cleanup] of pages) {
      try {
        await go(page, where);
        await settled(page);
        if (action) await action(page);
        await check(t, page, name, size, found);
      } catch (e) {
        found.push(`${name} (${size}): could not be checked: ${e.message.split('\n')[0]}`);
        try {
          const file = path.join(W.screenshots, `${name}-${size}.png`);
          await page.screenshot({ path: file, fullPage: true });
          t.artifacts.push(file);
        } catch { /* ignore */ }
      } finally {
        if (cleanup) await cleanup(page).catch(() => {});
      }
    }
  }
  if (found.length) throw new Error(`${found.length} finding(s):\n  ${found.join('\n  ')}`);
}

async function anyone(t) {
  await role(t, null, [
    ['signin', '#/signin'],
    ['join', `#/join/${W.codes.join_new}`],
    ['join-code', '#/join'],
    ['transparency', `#/t/${W.programs.main.id}`],
  ]);
}

async function artist(t) {
  const main = W.programs.main.id;
  await role(t, 'a1', [
    ['artist-programs', '#/programs'],
    ['artist-program', `#/programs/${main}`],
    ['artist-submissions', '#/submissions'],
    ['artist-submission', `#/submissions/${W.submissions.rejected.id}`],
    ['artist-submission-pending', `#/submissions/${W.submissions.pending.id}`],
    ['artist-money', '#/money'],
    ['artist-licenses', '#/licenses'],
    ['artist-settings', '#/settings'],
  ]);
}

async function staff(t) {
  const main = W.programs.main.id;
  let claimed = null;
  const release = async () => {
    if (claimed) await api('POST', `/v1/submissions/${claimed}/release`, { token: tok('staff') });
    claimed = null;
  };
  const claim = async (page) => {
    await page.keyboard.press('n');
    await visible(tid(page, 'claimed-item'), 'a claimed item');
    const subs = await api('GET', `/v1/submissions?program_id=${main}&status=in_review&limit=200`, { token: tok('staff') });
    claimed = subs.json?.items?.find((s) => s.claim)?.id || null;
    await sleep(200);
  };
  await role(t, 'staff', [
    ['staff-programs', '#/programs'],
    ['staff-program', `#/programs/${main}`],
    ['staff-review-programs', '#/review'],
    ['staff-review', `#/review/${main}`],
    ['staff-review-claimed', `#/review/${main}`, claim, release],
    ['staff-review-decision', `#/review/${main}`, async (page) => {
      await claim(page);
      await page.keyboard.press('r');
      await visible(tid(page, 'decision-form'), 'the decision form');
    }, release],
    ['staff-submissions', '#/submissions'],
    ['staff-submission', `#/submissions/${W.submissions.approved.id}`],
    ['staff-webhooks', '#/webhooks'],
  ]);
}

async function finance(t) {
  // the main program has funding and a draft batch made by the fixture
  const fin = W.programs.main.id;
  const pick = async (page) => {
    await setField(page, 'finance-program', fin);
    await visible(tid(page, 'accounts'), 'the accounts');
    await sleep(300);
  };
  await role(t, 'f1', [
    ['finance', '#/finance', pick],
    ['finance-batch', '#/finance', async (page) => {
      await pick(page);
      await tid(page, 'batch-open').first().click();
      await visible(tid(page, 'batch-detail'), 'a batch');
    }],
    ['finance-audit', '#/admin/audit'],
    ['finance-programs', '#/programs'],
  ]);
}

async function admin(t) {
  await role(t, 'admin', [
    ['admin-users', '#/admin/users'],
    ['admin-audit', '#/admin/audit'],
    ['admin-programs', '#/programs'],
    ['not-found', '#/no/such/page'],
  ]);
}

await run([
  ['pages_anyone', anyone],
  ['pages_artist', artist],
  ['pages_staff', staff],
  ['pages_finance', finance],
  ['pages_admin', admin],
]);
