/*
 * review.js: the review queue, #/review/<program_id> (and #/review to pick
 * a program). Queue figures with the SLA clock; "Claim next" shows the
 * claimed work (video player, provenance, the terms version the artist
 * accepted); Approve, or Reject / Request changes citing clauses of that
 * version with a reason; Release. Keyboard: n claim next, a approve,
 * r reject, c request changes, Esc cancel the decision form or release.
 */
import { ApiError, get, getAll, path, post, request } from './api.js';
import { h, pageHead, section, table, dl, badge, announce, prose, link, button, to } from './dom.js';
import { form, checkGroup, field, InputError, reportError } from './forms.js';
import { time, label, dueText, duration, KIND_LABELS } from './format.js';
import { termsView, mediaView, provenanceView, decisionsView } from './views.js';
import { user } from './session.js';

/* #/review: pick a program's queue. */
export async function pickPage(root, ctx) {
  const programs = (await getAll('/v1/programs', { status: 'open' })).slice(0, 50);
  const rows = await Promise.all(programs.map(async (p) => ({ p, q: await get(path`/v1/programs/${p.id}/queue`).catch(() => null) })));
  if (!ctx.alive()) return;
  pageHead(root, 'Review queues');
  root.append(section('Open programs', { testid: 'review-programs' }, table({
    caption: 'Review queues of open programs',
    testid: 'review-programs-table',
    empty: 'No program is open.',
    columns: [
      ['Program', ({ p }) => link(p.name, to('review', p.id), { testid: `review-program-${p.id}` })],
      ['Waiting', ({ q }) => (q ? String(waiting(q)) : '—'), 'num'],
      ['Overdue', ({ q }) => (q ? String(q.overdue) : '—'), 'num'],
      ['Oldest deadline', ({ q }) => (q && q.oldest_review_due_at ? dueText(q.oldest_review_due_at) : '—')],
    ],
    rows,
  })));
}

function waiting(q) {
  return q.counts.filter((c) => c.status === 'pending' || c.status === 'appealed' || c.status === 'in_review').reduce((n, c) => n + c.count, 0);
}

function figures(q, program) {
  const oldest = q.oldest_review_due_at;
  const left = oldest ? new Date(oldest).getTime() - Date.now() : null;
  const clock = h('span', { testid: 'sla-clock', class: left != null && left < 0 ? 'overdue' : null },
    oldest == null ? 'Nothing is waiting.' : left >= 0 ? `The oldest open item is due in ${duration(left)}.` : `The oldest open item is ${duration(left)} past its deadline; it will be deemed approved.`);
  const open = q.counts.filter((c) => ['pending', 'in_review', 'appealed'].includes(c.status));
  return h('div', { testid: 'queue-figures' },
    dl([
      ['SLA clock', clock],
      ['Waiting (open)', String(waiting(q))],
      ['Overdue', h('span', { testid: 'queue-overdue' }, String(q.overdue))],
      ['Claimed now', h('span', { testid: 'queue-open-claims' }, String(q.open_claims))],
      ['Deadline per item', `${program.review_sla_hours} hours, then deemed approved`],
    ], 'facts facts-wide'),
    table({
      caption: 'Open items by status and kind',
      testid: 'queue-counts',
      empty: 'The queue is empty.',
      columns: [
        ['Status', (c) => label(c.status)],
        ['Kind', (c) => KIND_LABELS[c.kind] || c.kind],
        ['Count', (c) => String(c.count), 'num'],
      ],
      rows: open,
    }));
}

export async function page(root, ctx) {
  const pid = ctx.params.id;
  const [program, queue] = await Promise.all([get(path`/v1/programs/${pid}`), get(path`/v1/programs/${pid}/queue`)]);
  if (!ctx.alive()) return;
  const me = user();
  const termsCache = new Map();
  let held = null; /* the claimed submission */
  let mode = null; /* null | 'rejected' | 'changes_requested' */
  let busy = false;

  pageHead(root, `Review: ${program.name}`);
  const figuresBox = h('div', null, figures(queue, program));
  const refresh = async () => {
    try {
      figuresBox.replaceChildren(figures(await get(path`/v1/programs/${pid}/queue`), program));
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) announce(`Queue figures could not be refreshed: ${e.message}`, 'error');
    }
  };
  const figSection = section('Queue', null, figuresBox, h('div', { class: 'actions' }, button('Refresh figures', refresh, { testid: 'queue-refresh' })));

  const kinds = checkGroup({
    legend: 'Claim only these kinds',
    name: 'kinds',
    options: program.submission_kinds.map((k) => [k, KIND_LABELS[k]]),
    checked: program.submission_kinds,
    testid: (k) => `claim-kind-${k}`,
  });
  const claimBtn = button('Claim next', () => claimNext(), { kind: 'primary', testid: 'claim-next', 'aria-keyshortcuts': 'n' });
  const shortcuts = h('p', { class: 'hint', testid: 'shortcuts', id: 'review-shortcuts' }, 'Keyboard: ', h('kbd', null, 'n'), ' claim next · ', h('kbd', null, 'a'), ' approve · ',
    h('kbd', null, 'r'), ' reject · ', h('kbd', null, 'c'), ' request changes · ', h('kbd', null, 'Esc'), ' cancel or release.');
  const claimSection = section('Claim', null, kinds, h('div', { class: 'actions' }, claimBtn), shortcuts);
  const itemBox = h('div', { class: 'item-box' });
  claimSection.classList.add('area-claim');
  figSection.classList.add('area-queue');
  root.append(h('div', { class: 'review-layout' }, claimSection, h('div', { class: 'area-item' }, itemBox), figSection));
  showIdle(null);

  function showIdle(message) {
    held = null;
    mode = null;
    claimBtn.disabled = false;
    itemBox.replaceChildren(h('section', { class: 'card empty-item', testid: message === 'empty' ? 'queue-empty' : 'no-item', 'aria-label': 'Claimed item' },
      h('p', null, message === 'empty' ? 'Nothing to claim: the queue is empty (or holds only appeals of your own decisions).' : 'No item claimed. Press Claim next or the n key.')));
  }

  async function termsFor(version) {
    if (!termsCache.has(version)) termsCache.set(version, await get(path`/v1/programs/${pid}/terms/${version}`));
    return termsCache.get(version);
  }

  async function claimNext() {
    if (busy) return;
    if (held) {
      announce('Decide or release the item you hold first.');
      return;
    }
    const chosen = kinds.values();
    if (!chosen.length) {
      announce('Choose at least one kind to claim.', 'error');
      return;
    }
    busy = true;
    claimBtn.disabled = true;
    try {
      const body = chosen.length < program.submission_kinds.length ? { kinds: chosen } : {};
      const r = await request('POST', path`/v1/programs/${pid}/queue/claim`, { body });
      if (r.status === 204 || !r.data) {
        showIdle('empty');
        announce('The queue is empty.');
        claimBtn.focus();
        return;
      }
      const sub = r.data;
      let terms;
      let detail;
      try {
        [terms, detail] = await Promise.all([termsFor(sub.terms_version), get(path`/v1/submissions/${sub.id}`)]);
      } catch (err) {
        /* Without its terms it cannot be decided: give it back at once. */
        post(path`/v1/submissions/${sub.id}/release`, {}).catch(() => {});
        throw err;
      }
      held = sub;
      showItem(sub, terms, detail);
      announce(`Claimed “${sub.title}”.`);
      itemBox.querySelector('h2').focus();
    } catch (err) {
      reportError(err);
      if (!held) claimBtn.disabled = false;
    } finally {
      busy = false;
      refresh();
    }
  }

  function showItem(sub, terms, detail) {
    claimBtn.disabled = true;
    const heading = h('h2', { tabindex: '-1', testid: 'claimed-title', id: 'claimed-title' }, sub.title);
    const leaseClock = h('span', { testid: 'lease-clock' });
    const dueClock = h('span', { testid: 'due-clock' });
    const tick = () => {
      const leaseLeft = new Date(sub.claim.lease_expires_at).getTime() - Date.now();
      leaseClock.textContent = leaseLeft > 0 ? `${duration(leaseLeft)} left on your claim` : 'Your claim has lapsed: another reviewer may take it. Release it or decide now.';
      leaseClock.className = leaseLeft > 0 ? '' : 'overdue';
      const dueLeft = new Date(sub.review_due_at).getTime() - Date.now();
      dueClock.textContent = dueLeft > 0 ? `Decision due in ${duration(dueLeft)}` : 'Past its deadline: it is being deemed approved';
    };
    tick();
    const timer = setInterval(tick, 15000);
    ctx.onCleanup(() => clearInterval(timer));
    const approve = button('Approve', () => decide('approved'), { kind: 'primary', testid: 'decide-approve', 'aria-keyshortcuts': 'a' });
    const reject = button('Reject…', () => openDecision('rejected'), { kind: 'danger', testid: 'decide-reject', 'aria-keyshortcuts': 'r' });
    const changes = button('Request changes…', () => openDecision('changes_requested'), { testid: 'decide-changes', 'aria-keyshortcuts': 'c' });
    const release = button('Release', () => releaseHeld(), { testid: 'release', 'aria-keyshortcuts': 'Escape' });
    const decisionBox = h('div');
    const item = h('section', { class: 'card item', testid: 'claimed-item', 'aria-labelledby': 'claimed-title' },
      heading,
      h('p', { class: 'meta' }, badge(sub.kind, KIND_LABELS[sub.kind]), ' ', h('span', { testid: 'claimed-status' }, badge(sub.status, label(sub.status))),
        sub.appeal ? [' ', badge('appealed', 'Appeal')] : null),
      dl([
        ['Deadline', h('span', null, dueClock, ' (', time(sub.review_due_at), ')')],
        ['Your claim', leaseClock],
        ['Submitted', time(sub.created_at)],
        ['Hours', sub.hours != null ? String(sub.hours) : null],
        ['Artist', h('code', null, sub.artist_id)],
      ]),
      h('div', { class: 'actions decide-bar', role: 'group', 'aria-label': 'Decision', 'aria-describedby': 'review-shortcuts' }, approve, reject, changes, release),
      decisionBox,
      sub.description ? h('div', null, h('h3', null, 'Description'), prose(sub.description)) : null,
      h('h3', null, 'Media'), mediaView(sub.media),
      h('h3', null, 'How it was made'), provenanceView(sub.generation),
      sub.appeal ? h('div', { testid: 'appeal' }, h('h3', null, 'The artist’s appeal'), h('p', { class: 'meta' }, 'Appealed ', time(sub.appeal.appealed_at)), prose(sub.appeal.statement)) : null,
      detail.decisions.length ? h('div', { testid: 'previous-decisions' }, h('h3', null, 'Earlier decisions'), decisionsView(detail.decisions, terms, { reviewerName: (id) => (id === me.id ? 'you' : 'another reviewer') })) : null,
      h('div', { testid: 'claimed-terms' }, h('h3', null, `Terms version ${terms.version}, as the artist accepted them`), termsView(terms, { level: 4 })));
    item.decisionBox = decisionBox;
    item.terms = terms;
    itemBox.replaceChildren(item);
  }

  function openDecision(outcome) {
    if (!held || busy) return;
    const item = itemBox.querySelector('[data-testid="claimed-item"]');
    mode = outcome;
    const terms = item.terms;
    const clauses = checkGroup({
      legend: `Clauses cited, from terms version ${terms.version} (at least one)`,
      name: 'clause_keys',
      options: terms.clauses.map((c) => [c.key, `${c.title} (${c.key})`]),
      testid: (k) => `clause-${k}`,
    });
    const reason = field({ type: 'textarea', name: 'reason', label: 'Reason, for the artist', testid: 'decision-reason', required: true, rows: 4, attrs: { maxlength: 2000 } });
    const cancel = button('Cancel', () => closeDecision(), { testid: 'decision-cancel' });
    const verb = outcome === 'rejected' ? 'Reject' : 'Request changes';
    const f = form({
      testid: 'decision-form',
      label: verb,
      submitLabel: verb,
      submitKind: outcome === 'rejected' ? 'danger' : 'primary',
      submitTestid: 'decision-submit',
      children: [h('h3', null, outcome === 'rejected' ? 'Reject this submission' : 'Ask for changes'), clauses, reason],
      extraActions: cancel,
      onSubmit: async () => {
        const keys = clauses.values();
        if (!keys.length) throw new InputError('clause_keys', 'Tick at least one clause the decision rests on.');
        if (!reason.input.value.trim()) throw new InputError('reason', 'Write the reason the artist will read.');
        await decide(outcome, reason.input.value, keys, true);
      },
    });
    item.decisionBox.replaceChildren(f);
    const first = f.querySelector('input[type="checkbox"]');
    (first || reason.input).focus();
  }

  function closeDecision() {
    mode = null;
    const item = itemBox.querySelector('[data-testid="claimed-item"]');
    if (!item) return;
    item.decisionBox.replaceChildren();
    item.querySelector('h2').focus();
  }

  async function decide(outcome, reason, keys, fromForm = false) {
    if (!held || (busy && !fromForm)) return;
    const sub = held;
    busy = true;
    try {
      const body = outcome === 'approved' ? { outcome } : { outcome, reason, clause_keys: keys };
      await post(path`/v1/submissions/${sub.id}/decision`, body);
      showIdle(null);
      const done = { approved: 'Approved', rejected: 'Rejected', changes_requested: 'Changes requested for' }[outcome];
      announce(`${done} “${sub.title}”. Press n for the next item.`);
      claimBtn.focus();
      refresh();
    } catch (err) {
      if (err instanceof ApiError && err.kind === 'not-claim-holder') {
        showIdle(null);
        announce(`${err.message} Your claim lapsed; claim the next item.`, 'error');
        claimBtn.focus();
        return;
      }
      if (fromForm) throw err;
      reportError(err);
    } finally {
      busy = false;
    }
  }

  async function releaseHeld() {
    if (!held || busy) return;
    const sub = held;
    busy = true;
    try {
      await post(path`/v1/submissions/${sub.id}/release`, {});
      showIdle(null);
      announce(`Released “${sub.title}”; it is back in the queue.`);
      claimBtn.focus();
      refresh();
    } catch (err) {
      reportError(err);
    } finally {
      busy = false;
    }
  }

  const onKey = (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    const typing = e.target instanceof Element && e.target.closest('input, textarea, select, [contenteditable="true"]');
    if (e.key === 'Escape') {
      if (mode) closeDecision();
      else if (held) releaseHeld();
      else return;
      e.preventDefault();
      return;
    }
    if (typing || e.repeat) return;
    const actions = { n: claimNext, a: () => decide('approved'), r: () => openDecision('rejected'), c: () => openDecision('changes_requested') };
    const fn = actions[e.key];
    if (!fn) return;
    if (mode || (e.key !== 'n' && !held)) return;
    e.preventDefault();
    fn();
  };
  document.addEventListener('keydown', onKey);
  const clock = setInterval(refresh, 30000);
  ctx.onCleanup(() => {
    document.removeEventListener('keydown', onKey);
    clearInterval(clock);
    if (held) request('POST', path`/v1/submissions/${held.id}/release`, { body: {}, keepalive: true }).catch(() => {});
  });
}

