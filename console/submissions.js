/*
 * submissions.js: #/submissions (an artist's own, or every submission for
 * staff, filtered) and #/submissions/<id>: the submission, its media and
 * provenance, decisions with the text of the clauses they cite (from the
 * terms version it was made under), the appeal form, withdrawal, and the
 * usage license sections.
 */
import { ApiError, get, getAll, path, post } from './api.js';
import { h, pageHead, section, table, badge, announce, prose, link, note, to } from './dom.js';
import { field, form, InputError, pagedTable, confirmForm } from './forms.js';
import { navigate, setQuery } from './router.js';
import { time, label, timeLeft, shortId, localToIso, KIND_LABELS, SUBMISSION_STATUSES, SUBMISSION_KINDS } from './format.js';
import { mediaView, provenanceView, decisionsView, submissionFacts } from './views.js';
import { user, is } from './session.js';
import * as licenses from './licenses.js';

const APPEAL_WINDOW_MS = 14 * 24 * 3600 * 1000;

export async function listPage(root, ctx) {
  const programs = await getAll('/v1/programs');
  if (!ctx.alive()) return;
  const byId = new Map(programs.map((p) => [p.id, p]));
  const staff = is('staff', 'admin');
  const q = ctx.query;
  pageHead(root, staff ? 'Submissions' : 'Your submissions');
  const prog = field({ type: 'select', name: 'program_id', label: 'Program', testid: 'filter-program', value: q.program, options: [['', 'All programs'], ...programs.map((p) => [p.id, p.name])] });
  const status = field({ type: 'select', name: 'status', label: 'Status', testid: 'filter-status', value: q.status, options: [['', 'Any status'], ...SUBMISSION_STATUSES.map((s) => [s, label(s)])] });
  const kind = field({ type: 'select', name: 'kind', label: 'Kind', testid: 'filter-kind', value: q.kind, options: [['', 'Any kind'], ...SUBMISSION_KINDS.map((k) => [k, KIND_LABELS[k]])] });
  const out = h('div', { class: 'results' });
  const load = async () => {
    const params = { program_id: prog.input.value, status: status.input.value, kind: kind.input.value };
    setQuery({ program: params.program_id, status: params.status, kind: params.kind });
    const fetchPage = (cursor) => get('/v1/submissions', { ...params, limit: 50, cursor });
    out.replaceChildren(await pagedTable(fetchPage, {
      caption: 'Submissions',
      testid: 'submissions',
      rowTestid: (s) => `submission-${s.id}`,
      empty: 'No submissions match.',
      columns: [
        ['Title', (s) => link(s.title, to('submissions', s.id))],
        ['Program', (s) => (byId.get(s.program_id) || {}).name || shortId(s.program_id)],
        ['Kind', (s) => KIND_LABELS[s.kind] || s.kind],
        ['Status', (s) => badge(s.status, label(s.status))],
        ['Time left', (s) => timeLeft(s)],
        ['Submitted', (s) => time(s.created_at)],
        staff ? ['Artist', (s) => h('code', { title: s.artist_id }, shortId(s.artist_id))] : null,
      ].filter(Boolean),
    }));
  };
  for (const f of [prog, status, kind]) f.input.addEventListener('change', () => load().catch((e) => announce(e.message, 'error')));
  root.append(h('div', { class: 'filters card', role: 'search', 'aria-label': 'Filter submissions' }, prog, status, kind), out);
  await load();
}

function canAppeal(s) {
  if (s.status !== 'rejected' || s.appeal) return false;
  const last = s.decisions[s.decisions.length - 1];
  return !!last && last.outcome === 'rejected' && Date.now() - new Date(last.decided_at).getTime() < APPEAL_WINDOW_MS;
}

function appealForm(s) {
  const last = s.decisions[s.decisions.length - 1];
  const closes = new Date(new Date(last.decided_at).getTime() + APPEAL_WINDOW_MS).toISOString();
  const statement = field({ type: 'textarea', name: 'statement', label: 'Why the rejection is wrong', testid: 'appeal-statement', required: true, rows: 5, attrs: { maxlength: 5000 } });
  return section('Appeal the rejection', { testid: 'appeal-section' },
    h('p', null, 'You may appeal once, until ', time(closes), '. A different reviewer decides the appeal, with a new deadline.'),
    form({
      testid: 'appeal-form',
      label: 'Appeal',
      submitLabel: 'Send the appeal',
      submitTestid: 'appeal-submit',
      children: [statement],
      onSubmit: async () => {
        if (!statement.input.value.trim()) throw new InputError('statement', 'Say why the rejection is wrong.');
        await post(path`/v1/submissions/${s.id}/appeal`, { statement: statement.input.value });
        announce('Appeal sent. It is back in the review queue.');
        navigate(`/submissions/${encodeURIComponent(s.id)}`);
      },
    }));
}

function exhibitForm(s) {
  const venue = field({ name: 'venue', label: 'Venue', testid: 'exhibit-venue', required: true, attrs: { maxlength: 200 } });
  const starts = field({ type: 'datetime-local', name: 'starts_at', label: 'Opens (your local time)', testid: 'exhibit-starts', required: true });
  return section('Record an exhibition', { testid: 'exhibit-section' },
    note('Accrues the exhibition rate to the artist once per work and venue.'),
    form({
      testid: 'exhibit-form',
      submitLabel: 'Record the exhibition',
      submitTestid: 'exhibit-submit',
      children: [venue, starts],
      onSubmit: async (key) => {
        await post(path`/v1/submissions/${s.id}/exhibit`, { venue: venue.input.value.trim(), starts_at: localToIso(starts.input.value) }, { key });
        announce('Exhibition recorded.');
        navigate(`/submissions/${encodeURIComponent(s.id)}`);
      },
    }));
}

export async function detailPage(root, ctx) {
  const s = await get(path`/v1/submissions/${ctx.params.id}`);
  const [program, terms] = await Promise.all([
    get(path`/v1/programs/${s.program_id}`).catch(() => null),
    get(path`/v1/programs/${s.program_id}/terms/${s.terms_version}`).catch((e) => (e instanceof ApiError ? null : Promise.reject(e))),
  ]);
  if (!ctx.alive()) return;
  const staff = is('staff', 'admin');
  const me = user();
  pageHead(root, s.title);
  root.querySelector('h1').replaceChildren(h('span', { testid: 'submission-title' }, s.title));
  root.append(section('Overview', null, submissionFacts(s, program),
    s.description ? prose(s.description, { testid: 'submission-description' }) : null,
    staff && program ? h('p', { class: 'links' }, link('Review queue', to('review', program.id)), ` · Artist `, h('code', null, s.artist_id)) : null));
  if (!staff && s.status === 'pending') {
    root.append(confirmForm('Withdraw this submission', 'submission-withdraw', {
      testid: 'submission-withdraw-form',
      submitLabel: 'Withdraw it',
      submitKind: 'danger',
      submitTestid: 'submission-withdraw-confirm',
      children: note('It leaves the review queue and earns nothing. This cannot be undone.'),
      onSubmit: async () => {
        await post(path`/v1/submissions/${s.id}/withdraw`, {});
        announce('Submission withdrawn.');
        navigate(`/submissions/${encodeURIComponent(s.id)}`);
      },
    }));
  }
  root.append(section('Media', null, mediaView(s.media)));
  if (s.kind === 'work' || s.generation) root.append(section('How it was made', null, provenanceView(s.generation)));
  if (s.appeal) {
    root.append(section('Appeal', { testid: 'appeal' }, h('p', { class: 'meta' }, 'Appealed ', time(s.appeal.appealed_at)), prose(s.appeal.statement)));
  }
  const reviewerName = (id) => (me && id === me.id ? 'you' : staff ? `reviewer ${shortId(id)}` : 'a reviewer');
  root.append(section('Decisions', null, decisionsView(s.decisions, terms, { reviewerName })));
  if (!staff && canAppeal(s)) root.append(appealForm(s));
  if (s.exhibitions && s.exhibitions.length) {
    root.append(section('Exhibitions', null, table({
      caption: 'Exhibitions',
      testid: 'exhibitions',
      columns: [
        ['Venue', (e) => e.venue],
        ['Opens', (e) => time(e.starts_at)],
        ['Recorded', (e) => time(e.created_at)],
      ],
      rows: s.exhibitions,
    })));
  }
  if (staff && (s.status === 'approved' || s.status === 'deemed_approved')) root.append(exhibitForm(s));
  if (s.kind === 'work' && program) {
    const holder = h('div', null, note('Loading licenses…'));
    root.append(holder);
    try {
      holder.replaceWith(staff ? await licenses.staffSection(s, program) : await licenses.artistWorkSection(s, program));
    } catch (e) {
      holder.replaceChildren(h('p', { class: 'error-text' }, `Licenses could not be loaded: ${e.message}`));
    }
  }
}
