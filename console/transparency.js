/*
 * transparency.js: #/t/<program_id>, a program's public figures. Works
 * without signing in when the program publishes them; otherwise the
 * server's 404 detail is shown.
 */
import { ApiError, get, path } from './api.js';
import { h, pageHead, section, table, dl } from './dom.js';
import { money, label, KIND_LABELS } from './format.js';
import { user } from './session.js';

function hours(v) {
  return v == null ? 'Nothing decided yet' : `${v} hours`;
}

export async function page(root, ctx) {
  const id = ctx.params.id;
  let t;
  try {
    t = await get(path`/v1/programs/${id}/transparency`, null, { quiet401: true });
  } catch (err) {
    if (err instanceof ApiError && (err.status === 404 || err.status === 401)) {
      pageHead(root, 'Transparency figures');
      root.append(h('p', { class: 'error-text', testid: 'page-error' }, err.message));
      return;
    }
    throw err;
  }
  let name = null;
  if (user()) {
    try {
      name = (await get(path`/v1/programs/${id}`)).name;
    } catch {
      /* the figures are public; the program object may not be */
    }
  }
  if (!ctx.alive()) return;
  const c = t.currency;
  pageHead(root, name ? `${name}: transparency` : 'Program transparency',
    h('p', { class: 'lead' }, 'How this beta program treats its artists, computed live from its records.'));
  root.append(section('Key figures', { testid: 'transparency' }, dl([
    ['Artists enrolled now', String(t.enrolled_testers), 'tp-enrolled'],
    ['Decided within the review deadline', t.decided_within_sla_share == null ? 'Nothing decided yet' : `${(t.decided_within_sla_share * 100).toFixed(1)} %`, 'tp-within-sla'],
    ['Median time to a decision', hours(t.hours_to_decision.median), 'tp-median-hours'],
    ['90th percentile time to a decision', hours(t.hours_to_decision.p90), 'tp-p90-hours'],
    ['Deemed approved (no decision by the deadline)', String(t.deemed_approvals), 'tp-deemed'],
    ['Paid to artists', money(t.paid_minor, c), 'tp-paid'],
    ['Owed to artists now', money(t.payable_minor, c), 'tp-payable'],
    ['Program cash on hand', money(t.cash_minor, c), 'tp-cash'],
    ['Median earnings per active artist', t.median_earnings_per_active_artist_minor == null ? 'No active artists' : money(t.median_earnings_per_active_artist_minor, c), 'tp-median-earnings'],
    ['Effective hourly pay (earnings ÷ session hours)', t.effective_hourly_pay_minor == null ? 'No session hours yet' : money(t.effective_hourly_pay_minor, c), 'tp-hourly-pay'],
    ['License fees earned', `Promotion ${money(t.license_fees_minor.promotion, c)}, training ${money(t.license_fees_minor.training, c)}`, 'tp-license-fees'],
  ], 'facts facts-wide')));
  if (t.cash_minor < t.payable_minor) {
    root.append(h('p', { class: 'callout callout-warn' }, 'The program holds less cash than it owes its artists.'));
  }
  root.append(section('Submissions by kind and outcome', null, table({
    caption: 'Submissions by kind and outcome',
    testid: 'tp-submissions',
    empty: 'No submissions yet.',
    columns: [
      ['Kind', (r) => KIND_LABELS[r.kind] || r.kind],
      ['Outcome', (r) => label(r.outcome)],
      ['Count', (r) => String(r.count), 'num'],
    ],
    rows: t.submissions,
  })));
  root.append(section('Usage license requests', null, table({
    caption: 'License requests by use and outcome',
    testid: 'tp-licenses',
    empty: 'No license requests yet.',
    columns: [
      ['Use', (r) => label(r.use)],
      ['Outcome', (r) => label(r.outcome)],
      ['Count', (r) => String(r.count), 'num'],
    ],
    rows: t.license_requests,
  })));
}
