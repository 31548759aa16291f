// Each user's main flow in the console, start to finish, against the real
// API, worker and PostgreSQL (tests/integration/test_console.py makes the
// users and the data each scenario starts from; see lib.mjs for the runner).
// Where a scenario depends on an earlier one (the invitation staff made is
// the one the new artist joins with), it falls back to what the fixture made
// when the earlier one failed, so that each is judged on its own.

import {
  W, BASE, assert, api, apiOk, until, run, tid, go, signIn, statusText, visible, bodyText,
  assertLiteral, setField, setFields, formError, reveal, sleep, tabTo, focusedTestid, hash, waitHash, listAll,
} from './lib.mjs';

const [XSS_IMG, XSS_SCRIPT] = W.xss || [];
const state = {};
const rnd = () => Math.random().toString(16).slice(2, 8);
const tok = (n) => W.users[n].token;

function day(offset) {
  const d = new Date(Date.now() + offset * 86400000);
  return d.toISOString().slice(0, 10);
}

// the submit button of a form, and what it says when it fails
async function submitForm(page, formTestid, submitTestid) {
  await tid(page, submitTestid).click();
  // the form is busy while the request runs; then either an error or not
  // (the form may be gone: a successful submission often redraws the page)
  await sleep(50);
  await until(async () => (await page.evaluate((id) => {
    const f = document.querySelector(`[data-testid="${id}"]`);
    return f ? f.getAttribute('aria-busy') : null;
  }, formTestid)) !== 'true', `${formTestid}: still busy`);
  const err = await formError(page, formTestid);
  assert.equal(err, null, `${formTestid} refused: ${err}`);
}

// ---- anyone ----

async function transparencyPage(t) {
  const page = await t.page();
  const main = W.programs.main;
  await go(page, `#/t/${main.id}`);
  await visible(tid(page, 'transparency'), 'the transparency figures');
  const figures = await apiOk('GET', `/v1/programs/${main.id}/transparency`);
  const enrolled = (await tid(page, 'tp-enrolled').innerText()).trim();
  assert.ok(enrolled.includes(String(figures.enrolled_testers)),
    `enrolled testers: page says "${enrolled}", the API ${figures.enrolled_testers}`);
  await visible(tid(page, 'tp-submissions'), 'submissions by kind and outcome');
  const subs = await tid(page, 'tp-submissions').first().innerText();
  assert.match(subs, /reject/i, `the submissions table shows the rejection: ${subs}`);
  for (const id of ['tp-deemed', 'tp-median-hours', 'tp-within-sla', 'tp-paid', 'tp-payable', 'tp-cash']) {
    await visible(tid(page, id), `figure ${id}`);
  }
  // nobody is signed in, no cookie was set
  assert.equal(await tid(page, 'signout').count(), 0, 'a sign-out button without a session');
  assert.deepEqual((await page.context().cookies()).map((c) => c.name), [], 'cookies for an anonymous visit');

  // a program that does not publish its figures: the 404's detail
  const priv = await api('GET', `/v1/programs/${W.programs.private.id}/transparency`);
  assert.equal(priv.status, 404, priv.text);
  await go(page, `#/t/${W.programs.private.id}`);
  await until(async () => (await bodyText(page)).includes(priv.json.detail),
    `the private program's page shows the 404 detail "${priv.json.detail}"`);
  assert.equal(await tid(page, 'tp-enrolled').count(), 0, 'figures of a private program');
}

// ---- staff ----

async function staffCreatesProgram(t) {
  const page = await t.page();
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: BASE });
  await signIn(page, 'staff');
  await tid(page, 'nav-programs').click();
  await waitHash(page, /^#\/programs$/);
  const slug = `console-${rnd()}`;
  const name = `Made in the console ${slug}`;
  const description = `Short films ${XSS_SCRIPT} for the console test.`;
  await setFields(page, {
    'program-slug': slug, 'program-name': name, 'program-description': description,
    'program-currency': 'EUR', 'program-capacity': '25', 'program-sla': '48',
  });
  if (await tid(page, 'program-transparency').count()) await setField(page, 'program-transparency', true);
  await submitForm(page, 'program-create-form', 'program-create-submit');
  const found = await until(async () => (await listAll('/v1/programs', tok('staff'))).find((p) => p.slug === slug),
    `program ${slug} created`);
  state.program = found;
  assert.equal(found.name, name);
  assert.equal(found.description, description);
  assert.equal(found.status, 'draft');
  // the console goes to the new program (or the list links to it)
  if (!(await hash(page)).includes(found.id)) {
    await tid(page, `program-${found.id}`).getByRole('link').first().click();
  }
  await waitHash(page, new RegExp(`^#/programs/${found.id}`), 'the program page');
  await until(async () => (await tid(page, 'program-name').first().innerText()).includes(name), 'the program page names it');
  await assertLiteral(page, [description], 'the new program page');

  // terms: three clauses, one of each kind the program needs and one more
  const clauses = [
    { key: 'confidentiality', kind: 'confidentiality', title: 'What stays confidential',
      body: `Only outputs staff mark confidential. ${XSS_IMG}` },
    { key: 'responsible-use', kind: 'responsible_use', title: 'Responsible use',
      body: 'No real people without their consent.' },
    { key: 'pay', kind: 'compensation', title: `Pay ${XSS_SCRIPT}`, body: 'Every accepted contribution is paid.' },
  ];
  for (let i = 0; i < clauses.length; i++) {
    if (!(await tid(page, `terms-edit-key-${i}`).count())) await tid(page, 'terms-add-clause').click();
    const c = clauses[i];
    await setFields(page, {
      [`terms-edit-key-${i}`]: c.key, [`terms-edit-kind-${i}`]: c.kind,
      [`terms-edit-title-${i}`]: c.title, [`terms-edit-body-${i}`]: c.body,
    });
  }
  await submitForm(page, 'terms-form', 'terms-publish');
  const terms = await until(async () => {
    const r = await api('GET', `/v1/programs/${found.id}/terms`, { token: tok('staff') });
    return r.status === 200 && r.json;
  }, 'terms published');
  assert.deepEqual(terms.clauses.map((c) => [c.key, c.kind, c.title, c.body]),
    clauses.map((c) => [c.key, c.kind, c.title, c.body]), 'the published clauses');

  // the rate card: the label says whether amounts are minor or major units
  const rates = { work: 5000, bug_report: 2000, feedback: 1000, session_hour: 3000 };
  await reveal(tid(page, 'rate-input-work'));
  const labelText = await page.locator(`label[for="${await tid(page, 'rate-input-work').getAttribute('id')}"]`).innerText()
    .catch(() => '');
  const ratesForm = await tid(page, 'rates-form').innerText();
  const minor = /minor|cent/i.test(labelText + ratesForm);
  for (const [k, v] of Object.entries(rates)) {
    await setField(page, `rate-input-${k}`, minor ? String(v) : (v / 100).toFixed(2));
  }
  await submitForm(page, 'rates-form', 'rates-save');
  const card = await until(async () => {
    const r = await api('GET', `/v1/programs/${found.id}/rates`, { token: tok('staff') });
    return r.status === 200 && r.json;
  }, 'rate card saved');
  for (const [k, v] of Object.entries(rates)) {
    assert.equal(card.rates.find((r) => r.kind === k)?.amount_minor, v, `rate ${k} (${minor ? 'minor' : 'major'} units typed)`);
  }

  // open
  await tid(page, 'program-open').click();
  await until(async () => /open/i.test(await tid(page, 'program-status').first().innerText()), 'the page shows status open');
  assert.equal((await apiOk('GET', `/v1/programs/${found.id}`, { token: tok('staff') })).status, 'open');

  // an invitation: the code is shown once, with a link and a Copy button
  await setField(page, 'invite-max-uses', '3');
  await submitForm(page, 'invite-form', 'invite-submit');
  await visible(tid(page, 'invite-created'), 'the new invitation');
  const code = (await tid(page, 'invite-code').first().evaluate((e) => e.value || e.textContent)).trim();
  assert.match(code, /^fbi_/, `the code shown: ${code}`);
  const link = (await tid(page, 'invite-link').first().evaluate((e) => e.value || e.textContent)).trim();
  assert.equal(link, `${BASE}/#/join/${code}`, 'the invitation link');
  await tid(page, 'invite-copy').click();
  const copied = await until(() => page.evaluate(() => navigator.clipboard.readText()), 'the clipboard after Copy');
  assert.equal(copied, link, 'Copy put the link on the clipboard');
  // once: after leaving and coming back the code is nowhere on the page
  await go(page, '#/programs');
  await go(page, `#/programs/${found.id}`);
  await until(async () => (await tid(page, 'invitations').count()) > 0, 'the invitations list');
  assert.ok(!(await page.content()).includes(code), 'the code is shown again after reloading the page');
  state.invite = { code, link, program: found, clauses };
}

// ---- artists joining ----

async function readTermsInFull(page, clauses) {
  await visible(tid(page, 'join-terms'), 'the terms on the join page');
  for (const c of clauses) {
    const el = tid(page, `terms-clause-${c.key}`).first();
    await visible(el, `clause ${c.key}`);
    const text = await el.innerText();
    assert.ok(text.includes(c.title) && text.includes(c.body), `clause ${c.key} in full: ${text}`);
  }
}

async function artistJoinsAndSubmits(t) {
  let code = W.codes.join_new, program = W.programs.join, clauses = W.clauses;
  if (state.invite) ({ code, program, clauses } = state.invite);
  else t.note('staff_creates_program_terms_rates_and_invitation failed: joining with the fixture invitation');
  const page = await t.page();
  await page.goto(`${BASE}/#/join/${code}`);
  await until(async () => (await tid(page, 'join-program-name').first().innerText().catch(() => '')).includes(program.name),
    'the join page names the program');
  await readTermsInFull(page, clauses);
  await assertLiteral(page, clauses.map((c) => c.body), 'the join page');
  const email = `joined-${rnd()}@example.com`;
  const me = { email, password: 'a long enough password', display_name: `Ada ${XSS_IMG} Joiner` };
  await setFields(page, { 'join-email': me.email, 'join-password': me.password, 'join-display-name': me.display_name });
  // not without accepting
  await tid(page, 'join-submit').click();
  assert.ok(!(await hash(page)).startsWith('#/programs/'), 'joined without ticking the acceptance');
  const accept = tid(page, 'join-accept');
  assert.match(await page.locator(`label[for="${await accept.getAttribute('id')}"]`).innerText(), /accept terms version \d+/i);
  await accept.check();
  await tid(page, 'join-submit').click();
  await waitHash(page, new RegExp(`^#/programs/${program.id}`), 'the program page after joining');
  await until(async () => (await tid(page, 'user-name').innerText().catch(() => '')).includes(me.display_name), 'signed in after joining');
  await assertLiteral(page, [me.display_name], 'the header after joining');
  await until(async () => /Enrolled/.test(await tid(page, 'enrollment-status').first().innerText()), 'the enrollment shown');
  await visible(tid(page, 'submit-form'), 'the submit form of an enrolled artist');

  // submit a work with its generation provenance
  const title = `Glass harbour ${rnd()}`;
  const description = `Made over a week. ${XSS_IMG}`;
  const gen = { model: 'LTX Video', model_version: '0.9.1', prompt: `A glass harbour at dawn ${XSS_SCRIPT}`,
    seed: '7', resolution: '720p', duration_s: '8.5' };
  await setFields(page, { 'submit-kind': 'work', 'submit-title': title, 'submit-description': description });
  if (!(await tid(page, 'media-uri-0').count())) await tid(page, 'media-add').click();
  const sha = 'ab'.repeat(32);
  await setFields(page, { 'media-uri-0': 'https://cdn.example.com/clips/glass-harbour.mp4', 'media-sha256-0': sha,
    'media-bytes-0': '2097152', 'media-mime-0': 'video/mp4' });
  await setFields(page, { 'gen-model': gen.model, 'gen-model-version': gen.model_version, 'gen-prompt': gen.prompt,
    'gen-seed': gen.seed, 'gen-resolution': gen.resolution, 'gen-duration': gen.duration_s });
  await submitForm(page, 'submit-form', 'submit-submit');
  const mine = await until(async () => (await listAll(`/v1/submissions?program_id=${program.id}`, tok('staff')))
    .find((s) => s.title === title), 'the submission reached the API');
  assert.equal(mine.description, description);
  assert.equal(mine.status, 'pending');
  assert.deepEqual(mine.media, [{ uri: 'https://cdn.example.com/clips/glass-harbour.mp4', sha256: sha, bytes: 2097152, mime: 'video/mp4' }]);
  assert.deepEqual({ ...mine.generation }, { model: gen.model, model_version: gen.model_version, prompt: gen.prompt,
    seed: 7, resolution: gen.resolution, duration_s: 8.5 }, 'the provenance stored');

  // its status and the time left until deemed approval
  await go(page, '#/submissions');
  const row = tid(page, `submission-${mine.id}`);
  await visible(row, 'the submission in the list');
  const rowText = await row.innerText();
  assert.ok(rowText.includes(title) && /pending/i.test(rowText), `the row: ${rowText}`);
  await row.getByRole('link').first().click();
  await waitHash(page, new RegExp(`^#/submissions/${mine.id}`));
  await until(async () => /pending/i.test(await tid(page, 'submission-status').first().innerText()), 'status pending');
  const left = (await tid(page, 'submission-time-left').first().innerText()).trim();
  const hoursLeft = (Date.parse(mine.review_due_at) - Date.now()) / 3600000;
  assert.match(left, /\d/, `time left: ${left}`);
  t.note(`time left shown: "${left}" (due in ${hoursLeft.toFixed(1)} h)`);
  const prov = await tid(page, 'provenance').first().innerText();
  for (const v of [gen.model, gen.model_version, gen.prompt, gen.resolution, '7']) {
    assert.ok(prov.includes(v), `provenance shows ${v}: ${prov}`);
  }
  await visible(tid(page, 'media-video'), 'a video player for the video');
  await assertLiteral(page, [title, description, gen.prompt], 'the submission page');
  state.joined = { ...me, submission: mine, program };
}

async function signedInArtistJoins(t) {
  const page = await t.page();
  await signIn(page, 'a3');
  await go(page, `#/join/${W.codes.join_existing}`);
  await visible(tid(page, 'join-signed-in-as'), 'the join page knows who is signed in');
  await readTermsInFull(page, W.clauses);
  assert.equal(await tid(page, 'join-email').count(), 0, 'asks a signed-in artist for an email');
  assert.equal(await tid(page, 'join-password').count(), 0, 'asks a signed-in artist for a password');
  await tid(page, 'join-accept').check();
  await tid(page, 'join-submit').click();
  await waitHash(page, new RegExp(`^#/programs/${W.programs.join.id}`), 'the program page after joining');
  const mine = await apiOk('GET', '/v1/me/enrollments', { token: tok('a3') });
  const e = mine.items.find((x) => x.program_id === W.programs.join.id);
  assert.ok(e && e.status === 'active', `a3's enrollment: ${JSON.stringify(mine.items)}`);
}

// ---- keyboard-only review ----

async function keyboardReview(t) {
  const page = await t.page();
  // no mouse from here on: every click or pointer event is counted
  await page.addInitScript(() => {
    window.__pointer = 0;
    for (const ev of ['mousedown', 'pointerdown']) {
      window.addEventListener(ev, (e) => { if (e.isTrusted) window.__pointer++; }, true);
    }
  });
  const staff = W.users.staff;
  await go(page, '#/signin');
  await tid(page, 'signin-email').focus();
  await page.keyboard.type(staff.email);
  await page.keyboard.press('Tab');
  await page.keyboard.type(staff.password);
  await page.keyboard.press('Enter');
  await until(async () => !(await hash(page)).startsWith('#/signin'), 'signed in by keyboard');
  const pid = W.programs.review.id;
  const queue = W.submissions.queue;
  await go(page, `#/review/${pid}`);
  await visible(tid(page, 'queue-figures'), 'the queue figures');
  await visible(tid(page, 'sla-clock'), 'the SLA clock');
  await visible(tid(page, 'claim-next'), 'Claim next');
  // the page is reached by keyboard: Tab lands on Claim next
  await page.keyboard.press('Escape').catch(() => {});
  await tabTo(page, 'claim-next', 80);
  await page.evaluate(() => document.activeElement.blur());

  const claimed = async (title) => {
    await until(async () => (await tid(page, 'claimed-title').first().innerText().catch(() => '')).includes(title),
      `claimed ${title}`);
    const focus = await page.evaluate(() => {
      const a = document.activeElement;
      return a && (a.matches('h1,h2,h3,h4') || a.getAttribute('data-testid') === 'claimed-title') ? a.textContent : `${a && a.outerHTML.slice(0, 120)}`;
    });
    assert.ok(focus.includes(title), `focus is on the claimed item's heading: ${focus}`);
  };
  const status = async (sid) => (await apiOk('GET', `/v1/submissions/${sid}`, { token: tok('staff') }));
  // after a decision or a release the page is ready for the next claim
  const idle = async (what) => {
    await visible(tid(page, 'no-item'), `${what}: the page offers the next claim`);
    assert.equal(await tid(page, 'claimed-item').count(), 0, `${what}: an item is still shown`);
  };

  // n: claim the oldest; the work, its provenance and terms are shown
  await page.keyboard.press('n');
  await claimed('Queue work 1');
  await visible(tid(page, 'provenance'), 'provenance of the claimed work');
  await visible(tid(page, 'claimed-terms'), 'the terms version the artist accepted');
  for (const c of W.clauses) await visible(tid(page, 'claimed-terms').locator(`[data-testid="terms-clause-${c.key}"]`), `clause ${c.key}`);
  await visible(tid(page, 'media-video'), 'a video player');
  // a: approve
  await page.keyboard.press('a');
  await until(async () => (await status(queue[0])).status === 'approved', 'work 1 approved');
  await idle('approve');

  // n, r: reject citing a clause with a reason, all by keyboard
  await page.keyboard.press('n');
  await claimed('Queue work 2');
  await page.keyboard.press('r');
  await visible(tid(page, 'decision-form'), 'the decision form');
  await tabTo(page, 'clause-responsible-use');
  await page.keyboard.press('Space');
  assert.equal(await tid(page, 'clause-responsible-use').isChecked(), true, 'Space ticks the clause');
  await tabTo(page, 'decision-reason');
  const reason = `Depicts a real person ${XSS_SCRIPT} without consent.`;
  await page.keyboard.type(reason);
  await tabTo(page, 'decision-submit');
  await page.keyboard.press('Enter');
  const rejected = await until(async () => { const s = await status(queue[1]); return s.status === 'rejected' && s; }, 'work 2 rejected');
  const d = rejected.decisions[rejected.decisions.length - 1];
  assert.equal(d.reason, reason);
  assert.deepEqual(d.clause_keys, ['responsible-use']);
  await idle('reject');

  // n, Esc: claim and release; it goes back to the queue
  await page.keyboard.press('n');
  await claimed('Queue work 3');
  await page.keyboard.press('Escape');
  await until(async () => { const s = await status(queue[2]); return s.status === 'pending' && !s.claim; }, 'work 3 released by Esc');
  await idle('release');

  // n, c: request changes, citing a clause, by keyboard
  await page.keyboard.press('n');
  await claimed('Queue work 3');
  await page.keyboard.press('c');
  await visible(tid(page, 'decision-form'), 'the decision form for changes');
  await tabTo(page, 'clause-pay');
  await page.keyboard.press('Space');
  await tabTo(page, 'decision-reason');
  await page.keyboard.type('Please add the seed you used.');
  await tabTo(page, 'decision-submit');
  await page.keyboard.press('Enter');
  await until(async () => (await status(queue[2])).status === 'changes_requested', 'work 3: changes requested');
  await idle('request changes');

  // Claim next reached with Tab and pressed with Enter: the queue is empty
  await tabTo(page, 'claim-next', 80);
  await page.keyboard.press('Enter');
  await visible(tid(page, 'queue-empty'), 'the queue is empty');
  // and n says so too
  await page.keyboard.press('n');
  await visible(tid(page, 'queue-empty'), 'the queue is still empty');
  assert.equal(await page.evaluate(() => window.__pointer), 0, 'the mouse was used');
  state.reviewed = true;
}

// ---- the artist sees the decision and appeals ----

async function artistSeesDecision(t) {
  const page = await t.page();
  await signIn(page, 'a1');
  const s = W.submissions.rejected;
  await tid(page, 'nav-submissions').click();
  const row = tid(page, `submission-${s.id}`);
  await visible(row, 'the rejected work in the list');
  assert.match(await row.innerText(), /rejected/i);
  await row.getByRole('link').first().click();
  await waitHash(page, new RegExp(`^#/submissions/${s.id}`));
  await until(async () => /rejected/i.test(await tid(page, 'submission-status').first().innerText()), 'status rejected');
  const decision = await visible(tid(page, 'decision-0'), 'the decision');
  assert.ok((await decision.innerText()).includes(W.reject_reason), 'the decision shows its reason');
  const clause = W.clauses.find((c) => c.key === 'responsible-use');
  const cited = await (await visible(tid(page, 'cited-clause-responsible-use'), 'the cited clause')).innerText();
  assert.ok(cited.includes(clause.title) && cited.includes(clause.body), `the cited clause's text: ${cited}`);
  // appeal
  const statement = `The person shown is me ${XSS_IMG}; I consent.`;
  await setField(page, 'appeal-statement', statement);
  await submitForm(page, 'appeal-form', 'appeal-submit');
  await until(async () => /appeal/i.test(await tid(page, 'submission-status').first().innerText()), 'status appealed');
  await until(async () => (await bodyText(page)).includes(statement), 'the appeal on record');
  await assertLiteral(page, [statement], 'the appealed submission');
  const after = await apiOk('GET', `/v1/submissions/${s.id}`, { token: tok('a1') });
  assert.equal(after.status, 'appealed');
  assert.equal(after.appeal?.statement, statement);
  // a pending work shows the time left
  await go(page, `#/submissions/${W.submissions.pending.id}`);
  await until(async () => /\d/.test(await tid(page, 'submission-time-left').first().innerText()), 'time left on a pending work');
}

// ---- finance ----

async function pickProgram(page, pid) {
  await setField(page, 'finance-program', pid);
  await visible(tid(page, 'accounts'), 'the accounts of the program');
}

async function financeFlow(t) {
  const pid = W.programs.fin.id;
  const f1 = await t.page({ label: 'f1 ' });
  await signIn(f1, 'f1');
  await go(f1, '#/finance');
  await pickProgram(f1, pid);
  // funding: the amount's label says its unit
  const memo = `Seed money ${XSS_IMG} for the season`;
  const amountLabel = await f1.locator(`label[for="${await tid(f1, 'funding-amount').getAttribute('id')}"]`).innerText();
  const minor = /minor|cent/i.test(amountLabel);
  await setFields(f1, { 'funding-amount': minor ? '50000' : '500.00', 'funding-memo': memo });
  await submitForm(f1, 'funding-form', 'funding-submit');
  const txs = await until(async () => (await listAll(`/v1/ledger/transactions?program_id=${pid}`, tok('f1')))
    .filter((x) => x.memo === memo), 'the funding transaction');
  assert.equal(txs.length, 1, 'one funding transaction for one submission of the form');
  const cash = (await apiOk('GET', `/v1/ledger/accounts?program_id=${pid}`, { token: tok('f1') })).items.find((a) => a.kind === 'cash');
  assert.equal(cash.balance_minor, 50000, `cash after funding: ${JSON.stringify(cash)}`);
  await until(async () => (await tid(f1, 'accounts').first().innerText()).includes('500.00'), 'the accounts show €500.00');
  await until(async () => (await tid(f1, 'transactions').first().innerText()).includes(memo), 'the transaction list shows the memo');
  await assertLiteral(f1, [memo], 'the finance page');

  // draft a payout batch
  await submitForm(f1, 'batch-draft-form', 'batch-draft-submit');
  const batches = await until(async () => {
    const r = await api('GET', `/v1/programs/${pid}/payout-batches`, { token: tok('f1') });
    return r.status === 200 && r.json.items.length && r.json.items;
  }, 'a draft batch');
  const batch = batches[0];
  assert.equal(batch.status, 'draft');
  assert.equal(batch.items.length, 2, `one item per artist: ${JSON.stringify(batch.items)}`);

  // the one who drafted it cannot approve it (four eyes)
  await tid(f1, `batch-${batch.id}`).getByTestId('batch-open').click();
  await visible(tid(f1, 'batch-detail'), 'the draft batch for f1');
  assert.equal(await tid(f1, 'batch-approve').count(), 0, 'f1 is offered to approve their own batch');
  assert.match(await tid(f1, 'batch-detail').innerText(), /another finance user/i, 'f1 is told why not');

  // approved by another finance user
  const f2 = await t.page({ label: 'f2 ' });
  await signIn(f2, 'f2');
  await go(f2, '#/finance');
  await pickProgram(f2, pid);
  const row2 = tid(f2, `batch-${batch.id}`);
  await visible(row2, 'the batch in f2\'s list');
  await row2.getByTestId('batch-open').click();
  await visible(tid(f2, 'batch-detail'), 'the batch');
  await tid(f2, 'batch-approve').click();
  await until(async () => (await apiOk('GET', `/v1/payout-batches/${batch.id}`, { token: tok('f1') })).status === 'approved',
    'batch approved by f2');
  await until(async () => /approved/i.test(await tid(f2, 'batch-detail').innerText()), 'f2 sees it approved');

  // f1 marks an item paid
  await go(f1, `#/finance?program=${pid}`);
  await go(f1, '#/finance');
  await pickProgram(f1, pid);
  await tid(f1, `batch-${batch.id}`).getByTestId('batch-open').click();
  await visible(tid(f1, 'batch-detail'), 'the batch for f1');
  const item = batch.items[0];
  const itemRow = tid(f1, `item-${item.id}`);
  await visible(itemRow, 'the item');
  if (!(await itemRow.getByTestId('item-paid-ref').isVisible())) await itemRow.getByTestId('item-paid-open').click();
  await itemRow.getByTestId('item-paid-ref').fill('BANK-2026-0001');
  await itemRow.getByTestId('item-paid').click();
  await until(async () => {
    const b = await apiOk('GET', `/v1/payout-batches/${batch.id}`, { token: tok('f1') });
    const it = b.items.find((x) => x.id === item.id);
    return it.status === 'paid' && it;
  }, 'item paid');
  await until(async () => /paid/i.test(await tid(f1, `item-${item.id}`).innerText()), 'the item row says paid');

  // a CSV export for a period, downloaded
  await setFields(f1, { 'export-from': day(-1), 'export-to': day(1) });
  if (await tid(f1, 'export-format').count()) await setField(f1, 'export-format', 'csv');
  const href = await tid(f1, 'export-link').first().getAttribute('href');
  assert.match(href, /\/v1\/exports\/ledger\?/, `export link: ${href}`);
  assert.match(href, /format=csv/);
  const [download] = await Promise.all([f1.waitForEvent('download'), tid(f1, 'export-link').first().click()]);
  const file = await download.path();
  const csv = (await import('node:fs')).readFileSync(file, 'utf8');
  const lines = csv.trim().split(/\r?\n/);
  assert.ok(lines.length >= 3, `CSV has a header and rows: ${csv.slice(0, 400)}`);
  assert.match(lines[0], /^entry_id,transaction_id,/, `CSV header: ${lines[0]}`);
  assert.ok(csv.includes('Seed money'), 'the funding is in the export');
  t.note(`downloaded ${download.suggestedFilename()} (${lines.length} lines)`);
}

// ---- admin ----

async function adminFlow(t) {
  const page = await t.page();
  await signIn(page, 'admin');
  await tid(page, 'nav-users').click();
  await visible(tid(page, 'users'), 'the users table');
  await setField(page, 'users-filter-role', 'finance');
  // the list is redrawn for the role
  await until(async () => {
    const roles = await tid(page, 'users').locator('tbody tr').evaluateAll((rows) => rows.map((r) => r.innerText));
    return roles.length > 0 && roles.every((r) => /finance/i.test(r));
  }, 'only finance users listed');
  for (const n of ['f1', 'f2']) {
    const u = W.users[n];
    await until(async () => {
      if (await tid(page, `user-${u.id}`).count()) return true;
      const more = tid(page, 'load-more');
      if (await more.count() && await more.first().isVisible()) await more.first().click();
      return false;
    }, `${n} in the finance users`, 20000);
  }
  assert.equal(await tid(page, `user-${W.users.staff.id}`).count(), 0, 'the role filter shows staff among finance');
  // create a user
  const email = `made-by-admin-${rnd()}@example.com`;
  const name = `Grace ${XSS_SCRIPT} Hopper`;
  await setFields(page, { 'user-email': email, 'user-display-name': name, 'user-password': 'another long password' });
  // (the header's badge has the same data-testid: scoped to the form)
  await setField(page, tid(page, 'user-form').getByTestId('user-role'), 'staff');
  await submitForm(page, 'user-form', 'user-submit');
  const made = await until(async () => (await listAll('/v1/users?role=staff', tok('admin'))).find((u) => u.email === email),
    'the new user exists');
  assert.equal(made.display_name, name);
  await until(async () => (await bodyText(page)).includes(email), 'the page shows the new user');

  // the audit log, filtered by entity
  await tid(page, 'nav-audit').click();
  await visible(tid(page, 'audit-form'), 'the audit filters');
  await setField(page, 'audit-entity-id', W.programs.main.id);
  await submitForm(page, 'audit-form', 'audit-submit');
  const rows = await until(async () => {
    const n = await tid(page, 'audit').locator('tbody tr').count();
    return n > 0 && n;
  }, 'audit rows for the main program');
  const expected = await apiOk('GET', `/v1/audit?entity_id=${W.programs.main.id}&limit=200`, { token: tok('admin') });
  assert.equal(rows, Math.min(expected.items.length, rows), 'rows');
  assert.ok(rows >= Math.min(expected.items.length, 10), `the page shows ${rows} of ${expected.items.length} rows`);
  const text = await tid(page, 'audit').innerText();
  assert.ok(expected.items.every((a, i) => i >= rows || text.includes(a.action)), 'each row shows its action');
}

// ---- licenses ----

async function licenseAccept(t) {
  const page = await t.page();
  await signIn(page, 'a1');
  const req = W.license_requests.main;
  const before = (await apiOk('GET', '/v1/me/balance', { token: tok('a1') })).items
    .find((b) => b.program_id === W.programs.main.id);
  await tid(page, 'nav-licenses').click();
  const el = tid(page, `license-request-${req.id}`);
  await visible(el, 'the pending license request');
  const text = await el.innerText();
  assert.ok(text.includes(req.scope), `the request shows its scope: ${text}`);
  assert.ok(text.includes(req.note), 'the request shows its note');
  assert.ok(/promotion/i.test(text), 'the request names the use');
  assert.ok(text.includes('200.00'), `the request shows the fee €200.00: ${text}`);
  await el.getByTestId('license-accept').click();
  const confirm = tid(page, 'license-accept-confirm');
  if (await confirm.count()) await confirm.first().click();
  const lic = await until(async () => {
    const r = await apiOk('GET', `/v1/submissions/${req.submission_id}/licenses`, { token: tok('a1') });
    return r.licenses.find((l) => l.request_id === req.id);
  }, 'the license exists');
  assert.equal(lic.status, 'active');
  const row = tid(page, `license-${lic.id}`);
  await visible(row, 'the license in the list');
  assert.match(await row.innerText(), /active/i);
  await visible(row.getByTestId('license-revoke'), 'a Revoke button');
  const after = (await apiOk('GET', '/v1/me/balance', { token: tok('a1') })).items
    .find((b) => b.program_id === W.programs.main.id);
  assert.equal(after.earned_minor - before.earned_minor, req.fee_minor, 'the fee accrued');
  await go(page, '#/money');
  const bal = tid(page, `balance-${W.programs.main.id}`);
  await visible(bal, 'the balance of the program');
  const shown = await bal.innerText();
  const euros = (after.earned_minor / 100).toFixed(2);
  assert.ok(shown.includes(euros), `money page shows earned €${euros}: ${shown}`);
  // the statement of the program lists the license fee
  await setField(page, 'statement-program', W.programs.main.id);
  await tid(page, 'statement-submit').click();
  await until(async () => {
    const st = tid(page, 'statement');
    return await st.count() && /200\.00/.test(await st.first().innerText()) && /licen/i.test(await st.first().innerText());
  }, 'the statement shows the €200.00 license fee');
}

async function signOutFlow(t) {
  const page = await t.page();
  await signIn(page, 'a2');
  await tid(page, 'signout').click();
  await waitHash(page, /^#\/signin/, 'back at sign-in');
  assert.equal((await page.context().cookies()).filter((c) => c.name === 'fairbeta_session').length, 0,
    'the session cookie is cleared');
  const me = await page.evaluate(async () => (await fetch('/v1/me')).status);
  assert.equal(me, 401, 'GET /v1/me after sign-out');
  await go(page, '#/submissions');
  await waitHash(page, /^#\/signin/, 'a page for users sends to sign-in');
}

await run([
  ['transparency_page_without_signing_in', transparencyPage],
  ['staff_creates_program_terms_rates_and_invitation', staffCreatesProgram],
  ['artist_joins_from_invitation_link_and_submits', artistJoinsAndSubmits],
  ['signed_in_artist_joins_by_accepting_terms', signedInArtistJoins],
  ['keyboard_only_review', keyboardReview],
  ['artist_sees_decision_with_clause_text_and_appeals', artistSeesDecision],
  ['finance_funds_drafts_approves_pays_and_exports', financeFlow],
  ['admin_lists_users_and_audit_log', adminFlow],
  ['artist_accepts_license_request', licenseAccept],
  ['sign_out', signOutFlow],
]);
