/*
 * licenses.js: usage licenses (promotion, training). The artist's
 * #/licenses (requests to accept or decline, licenses to revoke), the
 * artist's per-work section and the staff section (request, withdraw) on a
 * submission page. Silence is never consent: nothing is granted unless the
 * artist accepts.
 */
import { ApiError, get, getAll, path, post, newKey } from './api.js';
import { h, pageHead, section, table, dl, badge, announce, prose, link, note, to } from './dom.js';
import { field, form, actionButton, InputError, intValue, confirmForm } from './forms.js';
import { setQuery } from './router.js';
import { money, time, label, parseMajor, minorToDecimal, dateText } from './format.js';

const REQUEST_STATUSES = ['pending', 'accepted', 'declined', 'withdrawn', 'expired'];

const USE_TEXT = {
  promotion: 'Promotion: using the work in the program owner’s marketing',
  training: 'Training: using the work to train a model',
};

/* One pending request, with Accept and Decline (with an optional reason). */
function requestCard(req, workTitle, onChange) {
  const accept = actionButton(`Accept for ${money(req.fee_minor, req.currency)}`, async () => {
    const lic = await post(path`/v1/license-requests/${req.id}/accept`, undefined, { key: newKey() });
    announce(`License granted until ${dateText(lic.until)}. The fee of ${money(lic.fee_minor, lic.currency)} is now owed to you.`);
    onChange();
  }, { kind: 'primary', testid: 'license-accept' });
  const reason = field({ type: 'textarea', name: 'reason', label: 'Reason (optional)', testid: 'license-decline-reason', rows: 2, attrs: { maxlength: 2000 } });
  const decline = confirmForm('Decline', 'license-decline', {
    testid: 'license-decline-form',
    submitLabel: 'Decline the request',
    submitKind: 'danger',
    submitTestid: 'license-decline-confirm',
    children: [note('No reason is needed.'), reason],
    onSubmit: async () => {
      const r = reason.input.value.trim();
      await post(path`/v1/license-requests/${req.id}/decline`, r ? { reason: r } : {});
      announce('You declined the license request.');
      onChange();
    },
  });
  return h('article', { class: 'card request', testid: `license-request-${req.id}` },
    h('h3', null, `${label(req.use)} license for `, workTitle ? link(workTitle, to('submissions', req.submission_id)) : 'your work'),
    dl([
      ['Use', USE_TEXT[req.use] || req.use],
      ['Where and how', prose(req.scope)],
      ['For', `${req.term_days} days from your acceptance`],
      ['Fee', money(req.fee_minor, req.currency)],
      ['Note from the program', req.note ? prose(req.note) : null],
      ['Answer by', time(req.expires_at)],
    ]),
    note('If you do not answer by then, the request expires and nothing is licensed.'),
    h('div', { class: 'actions' }, accept, decline));
}

function revokeControl(lic, noticeDays, onChange) {
  const reason = field({ type: 'textarea', name: 'reason', label: 'Reason (optional)', testid: 'license-revoke-reason', rows: 2, attrs: { maxlength: 2000 } });
  const notice = noticeDays == null ? 'The program’s notice period applies before it ends.'
    : noticeDays === 0 ? 'It ends at once.' : `It stays usable for the program’s notice period of ${noticeDays} days, then ends.`;
  return confirmForm('Revoke', 'license-revoke', {
    testid: 'license-revoke-form',
    submitLabel: 'Revoke the license',
    submitKind: 'danger',
    submitTestid: 'license-revoke-confirm',
    children: [note(`${notice} The fee stays yours.`), reason],
    onSubmit: async () => {
      const r = reason.input.value.trim();
      const out = await post(path`/v1/licenses/${lic.id}/revoke`, r ? { reason: r } : {});
      announce(out.status === 'revoked' ? 'License revoked.' : `License revoked; it ends ${dateText(out.until)}.`);
      onChange();
    },
  });
}

function licensesTable(licenses, { titles, noticeDays, onChange, artist }) {
  return table({
    caption: 'Licenses',
    testid: 'licenses',
    rowTestid: (l) => `license-${l.id}`,
    empty: 'No licenses.',
    columns: [
      ['Use', (l) => label(l.use)],
      titles ? ['Work', (l) => link(titles.get(l.submission_id) || 'Work', to('submissions', l.submission_id))] : null,
      ['Where and how', (l) => prose(l.scope)],
      ['Fee', (l) => money(l.fee_minor, l.currency), 'num'],
      ['Status', (l) => badge(l.status, label(l.status))],
      ['Until', (l) => time(l.until)],
      artist ? ['Action', (l) => (l.status === 'active' ? revokeControl(l, noticeDays ? noticeDays.get(l.program_id) : null, onChange) : (l.revoke_reason ? prose(l.revoke_reason) : '—'))] : ['Revoked', (l) => (l.revoked_at ? h('span', null, time(l.revoked_at), l.revoke_reason ? prose(l.revoke_reason) : null) : '—')],
    ].filter(Boolean),
    rows: licenses,
  });
}

async function titlesFor(ids) {
  const titles = new Map();
  await Promise.all([...new Set(ids)].map(async (id) => {
    try {
      titles.set(id, (await get(path`/v1/submissions/${id}`)).title);
    } catch {
      /* left out: shown as "Work" */
    }
  }));
  return titles;
}

/* #/licenses for an artist. */
export async function page(root, ctx) {
  const status = REQUEST_STATUSES.includes(ctx.query.status) || ctx.query.status === 'all' ? ctx.query.status : 'pending';
  const [requests, accepted, programs] = await Promise.all([
    getAll('/v1/me/license-requests', { status: status === 'all' ? null : status }),
    getAll('/v1/me/license-requests', { status: 'accepted' }),
    getAll('/v1/programs'),
  ]);
  const licenseLists = await Promise.all([...new Set(accepted.map((r) => r.submission_id))].map((sid) => get(path`/v1/submissions/${sid}/licenses`)));
  const licenses = licenseLists.flatMap((l) => l.licenses);
  const titles = await titlesFor([...requests, ...licenses].map((x) => x.submission_id));
  if (!ctx.alive()) return;
  const noticeDays = new Map(programs.map((p) => [p.id, p.license_notice_days]));
  const reload = () => page(root, { ...ctx, query: { status } });
  pageHead(root, 'Usage licenses', h('p', { class: 'lead' }, 'Programs ask before they use a work for promotion or to train a model, and pay for it. You may say no, and you may revoke a license later.'));
  const filter = field({ type: 'select', name: 'status', label: 'Show requests', testid: 'filter-request-status', value: status, options: [['pending', 'Waiting for your answer'], ['all', 'All'], ...REQUEST_STATUSES.slice(1).map((s) => [s, label(s)])] });
  filter.input.addEventListener('change', () => {
    setQuery({ status: filter.input.value });
    page(root, { ...ctx, query: { status: filter.input.value } });
  });
  const reqSection = section('License requests', { testid: 'license-requests' }, h('div', { class: 'filters' }, filter));
  const pending = requests.filter((r) => r.status === 'pending');
  const others = requests.filter((r) => r.status !== 'pending');
  if (!requests.length) reqSection.append(h('p', { class: 'empty' }, status === 'pending' ? 'No requests are waiting for your answer.' : 'No requests.'));
  for (const r of pending) reqSection.append(requestCard(r, titles.get(r.submission_id), reload));
  if (others.length) {
    reqSection.append(table({
      caption: 'Answered and closed requests',
      testid: 'license-requests-closed',
      rowTestid: (r) => `license-request-${r.id}`,
      columns: [
        ['Work', (r) => link(titles.get(r.submission_id) || 'Work', to('submissions', r.submission_id))],
        ['Use', (r) => label(r.use)],
        ['Fee', (r) => money(r.fee_minor, r.currency), 'num'],
        ['Status', (r) => badge(r.status, label(r.status))],
        ['Decided', (r) => time(r.decided_at)],
      ],
      rows: others,
    }));
  }
  root.append(reqSection);
  root.append(section('Your licenses', null, licensesTable(licenses, { titles, noticeDays, onChange: reload, artist: true })));
}

/* On an artist's submission page: this work's requests and licenses. */
export async function artistWorkSection(sub, program) {
  const data = await get(path`/v1/submissions/${sub.id}/licenses`);
  const s = section('Usage licenses for this work', { testid: 'work-licenses' });
  const reload = async () => s.replaceWith(await artistWorkSection(sub, program));
  const pending = data.requests.filter((r) => r.status === 'pending');
  if (!data.requests.length && !data.licenses.length) s.append(h('p', { class: 'empty' }, 'No program has asked to license this work.'));
  for (const r of pending) s.append(requestCard(r, sub.title, reload));
  if (data.licenses.length) {
    s.append(licensesTable(data.licenses, { noticeDays: new Map([[program.id, program.license_notice_days]]), onChange: reload, artist: true }));
  }
  return s;
}

/* On a staff submission page: request a license, see and withdraw requests. */
export async function staffSection(sub, program) {
  const [data, rates] = await Promise.all([
    get(path`/v1/submissions/${sub.id}/licenses`),
    get(path`/v1/programs/${program.id}/rates`).catch((e) => (e instanceof ApiError && e.status === 404 ? null : Promise.reject(e))),
  ]);
  const s = section('Usage licenses', { testid: 'staff-licenses' });
  const reload = async () => s.replaceWith(await staffSection(sub, program));
  const cur = program.currency;
  const rateOf = (use) => ((rates && rates.rates.find((r) => r.kind === `${use}_license`)) || { amount_minor: 0 }).amount_minor;
  const eligible = sub.kind === 'work' && (sub.status === 'approved' || sub.status === 'deemed_approved');
  if (eligible) {
    const use = field({ type: 'select', name: 'use', label: 'Use', testid: 'license-use', options: [['promotion', 'Promotion'], ['training', 'Training']] });
    const scope = field({ type: 'textarea', name: 'scope', label: 'Where and how it will be used', testid: 'license-scope', required: true, rows: 3, attrs: { maxlength: 500 } });
    const days = field({ type: 'number', name: 'term_days', label: 'Term in days', testid: 'license-term-days', required: true, value: 90, attrs: { min: 1, max: 3650, step: 1 } });
    const fee = field({ name: 'fee_minor', label: `Fee in ${cur}`, testid: 'license-fee', required: true, attrs: { inputmode: 'decimal' } });
    const noteF = field({ type: 'textarea', name: 'note', label: 'Note to the artist (optional)', testid: 'license-note', rows: 2, attrs: { maxlength: 2000 } });
    const minText = h('p', { class: 'hint' });
    const syncMin = () => {
      const min = rateOf(use.input.value);
      minText.textContent = min > 0 ? `The rate card’s minimum fee is ${money(min, cur)}.` : 'The rate card has no rate for this use, so it cannot be requested.';
      if (!fee.input.value || fee.input.dataset.auto === '1') {
        fee.input.value = min > 0 ? minorToDecimal(min, cur) : '';
        fee.input.dataset.auto = '1';
      }
    };
    fee.input.addEventListener('input', () => { fee.input.dataset.auto = '0'; });
    use.input.addEventListener('change', syncMin);
    syncMin();
    s.append(form({
      testid: 'license-form',
      label: 'Request a license',
      submitLabel: 'Send the request to the artist',
      submitTestid: 'license-submit',
      children: [use, minText, scope, days, fee, noteF],
      onSubmit: async (key) => {
        let feeMinor;
        try {
          feeMinor = parseMajor(fee.input.value, cur);
        } catch (e) {
          throw new InputError('fee_minor', e.message);
        }
        const body = { use: use.input.value, scope: scope.input.value, term_days: intValue(days.input, 'term_days', { min: 1, max: 3650 }), fee_minor: feeMinor };
        if (noteF.input.value.trim()) body.note = noteF.input.value;
        await post(path`/v1/submissions/${sub.id}/license-requests`, body, { key });
        announce('License request sent. The artist decides; without an answer in 30 days it expires.');
        await reload();
      },
    }));
  } else {
    s.append(note('Licenses can be requested for works that are approved or deemed approved.'));
  }
  s.append(table({
    caption: 'License requests',
    testid: 'license-requests',
    rowTestid: (r) => `license-request-${r.id}`,
    empty: 'No license requests for this work.',
    columns: [
      ['Use', (r) => label(r.use)],
      ['Where and how', (r) => prose(r.scope)],
      ['Fee', (r) => money(r.fee_minor, r.currency), 'num'],
      ['Term', (r) => `${r.term_days} days`],
      ['Status', (r) => h('span', null, badge(r.status, label(r.status)), r.decline_reason ? prose(r.decline_reason) : null)],
      ['Expires', (r) => time(r.expires_at)],
      ['Action', (r) => (r.status === 'pending' ? actionButton('Withdraw', async () => {
        await post(path`/v1/license-requests/${r.id}/withdraw`, {});
        announce('License request withdrawn.');
        await reload();
      }, { testid: 'license-withdraw' }) : '—')],
    ],
    rows: data.requests,
  }));
  s.append(licensesTable(data.licenses, { artist: false }));
  return s;
}
