/*
 * programs.js: staff and admin program pages. #/programs (list, create)
 * and #/programs/<id>: edit with If-Match, open and close, publish terms
 * (clauses editor), the rate card, invitations (the code shown once, with
 * a copyable join link), enrollments and submissions. Finance users get a
 * read-only view.
 */
import { ApiError, get, path, post, put, request } from './api.js';
import { h, pageHead, section, dl, badge, announce, link, note, button, copyText, to } from './dom.js';
import { field, form, checkGroup, repeater, rename, actionButton, intValue, InputError, pagedTable } from './forms.js';
import { navigate } from './router.js';
import { time, dateText, label, shortId, parseMajor, minorToDecimal, localToIso, toLocalInput, timeLeft, KIND_LABELS, RATE_LABELS, RATE_KINDS, SUBMISSION_KINDS, CLAUSE_KINDS } from './format.js';
import { termsView, ratesView } from './views.js';
import { is } from './session.js';

const orNull = (p) => p.catch((e) => (e instanceof ApiError && e.status === 404 ? null : Promise.reject(e)));

/* The program fields shared by the create and edit forms. */
function programFields(p, { create }) {
  const f = {};
  if (create) {
    f.slug = field({ name: 'slug', label: 'Slug', testid: 'program-slug', required: true, hint: 'Lower-case letters and digits joined by hyphens, e.g. spring-video-beta. Cannot change later.', attrs: { pattern: '[a-z0-9]+(-[a-z0-9]+)*', minlength: 3, maxlength: 64, autocomplete: 'off', spellcheck: 'false' } });
  }
  f.name = field({ name: 'name', label: 'Name', testid: 'program-name', required: true, value: p.name, attrs: { maxlength: 200 } });
  f.description = field({ type: 'textarea', name: 'description', label: 'Description', testid: 'program-description', value: p.description, rows: 4, attrs: { maxlength: 10000 } });
  if (create) {
    f.currency = field({ name: 'currency', label: 'Currency (ISO 4217)', testid: 'program-currency', required: true, value: 'EUR', hint: 'Cannot change later.', attrs: { pattern: '[A-Z]{3}', maxlength: 3, autocomplete: 'off' } });
  }
  f.capacity = field({ type: 'number', name: 'capacity', label: 'Capacity (artists)', testid: 'program-capacity', required: true, value: p.capacity ?? 50, attrs: { min: 1, max: 100000, step: 1 } });
  f.review_sla_hours = field({ type: 'number', name: 'review_sla_hours', label: 'Review deadline in hours', testid: 'program-sla', required: true, value: p.review_sla_hours ?? 72, hint: 'After it, an undecided submission is deemed approved.', attrs: { min: 1, max: 720, step: 1 } });
  f.sharing = field({ type: 'select', name: 'sharing', label: 'Sharing', testid: 'program-sharing', value: p.sharing || 'after_review', options: [['after_review', 'After review: artists share once approved'], ['open', 'Open: artists may share at once']] });
  f.license_notice_days = field({ type: 'number', name: 'license_notice_days', label: 'License notice in days', testid: 'program-notice-days', value: p.license_notice_days ?? 30, hint: 'How long a revoked usage license stays usable (0 to 365).', attrs: { min: 0, max: 365, step: 1 } });
  f.public_transparency = field({ type: 'checkbox', name: 'public_transparency', label: 'Publish transparency figures', testid: 'program-transparency', value: p.public_transparency ?? true });
  if (create || p.status === 'draft') {
    f.submission_kinds = checkGroup({ legend: 'Submission kinds accepted', name: 'submission_kinds', options: SUBMISSION_KINDS.map((k) => [k, KIND_LABELS[k]]), checked: p.submission_kinds || SUBMISSION_KINDS, testid: (k) => `program-kind-${k}` });
  }
  return f;
}

function readProgramFields(f) {
  const v = {};
  if (f.slug) v.slug = f.slug.input.value.trim();
  v.name = f.name.input.value.trim();
  v.description = f.description.input.value;
  if (f.currency) v.currency = f.currency.input.value.trim().toUpperCase();
  v.capacity = intValue(f.capacity.input, 'capacity', { min: 1, max: 100000 });
  v.review_sla_hours = intValue(f.review_sla_hours.input, 'review_sla_hours', { min: 1, max: 720 });
  v.sharing = f.sharing.input.value;
  v.license_notice_days = intValue(f.license_notice_days.input, 'license_notice_days', { min: 0, max: 365 });
  v.public_transparency = f.public_transparency.input.checked;
  if (f.submission_kinds) {
    v.submission_kinds = f.submission_kinds.values();
    if (!v.submission_kinds.length) throw new InputError('submission_kinds', 'Choose at least one kind.');
  }
  return v;
}

export async function listPage(root, ctx) {
  const staff = is('staff', 'admin');
  const fetchPage = (cursor) => get('/v1/programs', { limit: 50, cursor });
  const list = await pagedTable(fetchPage, {
    caption: 'Programs, newest first',
    testid: 'programs',
    rowTestid: (p) => `program-${p.id}`,
    empty: 'No programs yet.',
    columns: [
      ['Program', (p) => link(p.name, to('programs', p.id))],
      ['Status', (p) => badge(p.status, label(p.status))],
      ['Slug', (p) => h('code', null, p.slug)],
      ['Currency', (p) => p.currency],
      ['Links', (p) => h('span', { class: 'links' },
        staff ? link('Review queue', to('review', p.id)) : link('Finance', `#/finance?program=${encodeURIComponent(p.id)}`),
        p.public_transparency ? [' · ', link('Transparency', to('t', p.id))] : null)],
    ],
  });
  if (!ctx.alive()) return;
  pageHead(root, 'Programs');
  root.append(section('All programs', null, list));
  if (!staff) return;
  const f = programFields({}, { create: true });
  root.append(section('Create a program', null,
    note('A new program starts as a draft. To open it, publish terms with a confidentiality and a responsible-use clause, and a rate card that pays for every kind it accepts.'),
    form({
      testid: 'program-create-form',
      label: 'Create a program',
      submitLabel: 'Create the program',
      submitTestid: 'program-create-submit',
      children: [h('div', { class: 'grid' }, f.slug, f.name, f.currency, f.capacity, f.review_sla_hours, f.sharing, f.license_notice_days), f.description, f.public_transparency, f.submission_kinds],
      onSubmit: async (key) => {
        const p = await post('/v1/programs', readProgramFields(f), { key });
        announce(`Program “${p.name}” created as a draft.`);
        navigate(`/programs/${encodeURIComponent(p.id)}`);
      },
    })));
}

export async function programPage(root, ctx) {
  const id = ctx.params.id;
  const staff = is('staff', 'admin');
  const [res, terms, rates] = await Promise.all([
    request('GET', path`/v1/programs/${id}`),
    orNull(get(path`/v1/programs/${id}/terms`)),
    orNull(get(path`/v1/programs/${id}/rates`)),
  ]);
  if (!ctx.alive()) return;
  const program = res.data;
  let etag = res.etag;
  const reload = () => navigate(`/programs/${encodeURIComponent(id)}`);
  const patch = async (body) => {
    try {
      const r = await request('PATCH', path`/v1/programs/${id}`, { body, ifMatch: etag || '*' });
      etag = r.etag;
      return r.data;
    } catch (err) {
      if (err instanceof ApiError && err.status === 412) {
        announce('Someone else changed this program meanwhile. The page now shows their version; make your change again.', 'error');
        reload();
      }
      throw err;
    }
  };

  pageHead(root, program.name, h('p', { class: 'meta' }, h('span', { testid: 'program-status' }, badge(program.status, label(program.status))), ' ', h('code', null, program.slug), ` · ${program.currency}`));
  root.querySelector('h1').replaceChildren(h('span', { testid: 'program-name' }, program.name));
  const links = h('p', { class: 'links' },
    staff ? link('Review queue', to('review', id), { testid: 'link-review' }) : link('Finance', `#/finance?program=${encodeURIComponent(id)}`),
    staff ? [' · ', link('Submissions', `#/submissions?program=${encodeURIComponent(id)}`), ' · ', link('Webhooks', `#/webhooks?program=${encodeURIComponent(id)}`)] : null,
    program.public_transparency ? [' · ', link('Public transparency page', to('t', id), { testid: 'link-transparency' })] : null);
  root.append(links);

  /* Status: open and close. */
  const statusSection = section('Status', { testid: 'program-status-section' }, dl([
    ['Status', label(program.status)],
    ['Created', time(program.created_at)],
    ['Opened', program.opened_at ? time(program.opened_at) : null],
    ['Closed', program.closed_at ? time(program.closed_at) : null],
  ]));
  const reasons = h('div', { role: 'alert' });
  if (staff && program.status !== 'closed') {
    const next = program.status === 'draft' ? 'open' : 'closed';
    const b = actionButton(next === 'open' ? 'Open the program' : 'Close the program', async () => {
      reasons.replaceChildren();
      try {
        await patch({ status: next });
      } catch (err) {
        if (err instanceof ApiError && err.kind === 'program-not-ready') {
          reasons.replaceChildren(h('div', { class: 'callout callout-warn', testid: 'program-not-ready' }, h('p', null, err.message), h('ul', null, (err.problem.reasons || []).map((r) => h('li', null, r)))));
          return;
        }
        throw err;
      }
      announce(next === 'open' ? 'The program is open.' : 'The program is closed.');
      reload();
    }, { kind: next === 'open' ? 'primary' : 'danger', testid: next === 'open' ? 'program-open' : 'program-close' });
    statusSection.append(h('div', { class: 'actions' }, b), reasons);
  }
  root.append(statusSection);

  if (staff && program.status !== 'closed') root.append(editSection(program, patch, reload));
  else root.append(section('Details', null, dl([
    ['Description', program.description || null],
    ['Capacity', String(program.capacity)],
    ['Review deadline', `${program.review_sla_hours} hours`],
    ['Sharing', label(program.sharing)],
    ['Kinds accepted', program.submission_kinds.map((k) => KIND_LABELS[k]).join(', ')],
  ])));

  root.append(termsSection(program, terms, staff, reload));
  root.append(ratesSection(program, rates, staff, reload));
  if (staff) {
    root.append(await invitationsSection(program));
    root.append(await enrollmentsSection(program));
  }
  if (staff) root.append(await submissionsSection(program));
}

function editSection(program, patch, reload) {
  const f = programFields(program, { create: false });
  return section('Details', null, form({
    testid: 'program-edit-form',
    label: 'Program details',
    submitLabel: 'Save changes',
    submitTestid: 'program-edit-submit',
    children: [h('div', { class: 'grid' }, f.name, f.capacity, f.review_sla_hours, f.sharing, f.license_notice_days), f.description, f.public_transparency, f.submission_kinds],
    onSubmit: async () => {
      const v = readProgramFields(f);
      const changed = {};
      for (const [k, val] of Object.entries(v)) if (JSON.stringify(val) !== JSON.stringify(program[k])) changed[k] = val;
      if (!Object.keys(changed).length) {
        announce('Nothing to save: no field changed.');
        return;
      }
      await patch(changed);
      announce('Program saved.');
      reload();
    },
  }));
}

function clauseRow(data, removeBtn) {
  const legend = h('legend');
  const key = field({ name: '', label: 'Key', required: true, value: data.key, hint: 'e.g. confidentiality.outputs', attrs: { pattern: '[a-z0-9][a-z0-9_.\\-]*', maxlength: 64, autocomplete: 'off', spellcheck: 'false' } });
  const kind = field({ type: 'select', name: '', label: 'Kind', value: data.kind || 'other', options: CLAUSE_KINDS.map((k) => [k, label(k)]) });
  const title = field({ name: '', label: 'Title', required: true, value: data.title, attrs: { maxlength: 200 } });
  const body = field({ type: 'textarea', name: '', label: 'Text', required: true, value: data.body, rows: 4, attrs: { maxlength: 20000 } });
  return {
    el: h('fieldset', { class: 'row' }, legend, h('div', { class: 'grid' }, key, kind, title), body, h('div', { class: 'actions' }, removeBtn)),
    read: () => ({ key: key.input.value.trim(), kind: kind.input.value, title: title.input.value.trim(), body: body.input.value }),
    setIndex(i) {
      legend.textContent = `Clause ${i + 1}`;
      rename(key, `clauses[${i}].key`, `terms-edit-key-${i}`);
      rename(kind, `clauses[${i}].kind`, `terms-edit-kind-${i}`);
      rename(title, `clauses[${i}].title`, `terms-edit-title-${i}`);
      rename(body, `clauses[${i}].body`, `terms-edit-body-${i}`);
      removeBtn.setAttribute('data-testid', `terms-edit-remove-${i}`);
      removeBtn.setAttribute('aria-label', `Remove clause ${i + 1}`);
    },
  };
}

function termsSection(program, terms, staff, reload) {
  const s = section(terms ? `Terms, version ${terms.version}` : 'Terms', { testid: 'terms-section' }, termsView(terms));
  if (!staff || program.status === 'closed') return s;
  const start = terms ? terms.clauses : [
    { key: 'confidentiality', kind: 'confidentiality', title: 'What stays confidential', body: '' },
    { key: 'responsible-use', kind: 'responsible_use', title: 'Responsible use', body: '' },
  ];
  const clauses = repeater({ legend: 'Clauses', addLabel: 'Add a clause', addTestid: 'terms-add-clause', build: clauseRow, initial: start, min: 1 });
  const until = field({ type: 'datetime-local', name: 'confidential_until', label: 'Confidentiality ends (optional, your local time)', testid: 'terms-confidential-until', value: terms && terms.confidential_until ? toLocalInput(new Date(terms.confidential_until)) : '' });
  s.append(h('details', { class: 'editor', open: !terms }, h('summary', { testid: 'terms-edit' }, terms ? 'Publish a new version' : 'Write and publish the terms'),
    note('Published versions never change. Artists must accept a new version before they submit again; decisions cite the version a submission was made under.'),
    form({
      testid: 'terms-form',
      label: 'Publish terms',
      submitLabel: 'Publish this version',
      submitTestid: 'terms-publish',
      children: [clauses, until],
      onSubmit: async (key) => {
        const body = { clauses: clauses.rows.map((r) => r.read()) };
        if (until.input.value) body.confidential_until = localToIso(until.input.value);
        const t = await post(path`/v1/programs/${program.id}/terms`, body, { key });
        announce(`Terms version ${t.version} published.`);
        reload();
      },
    })));
  return s;
}

function ratesSection(program, card, staff, reload) {
  const s = section('Rate card', { testid: 'rates-section' }, ratesView(card));
  if (!staff || program.status === 'closed') return s;
  const cur = program.currency;
  const inputs = RATE_KINDS.map((k) => {
    const cur0 = card ? (card.rates.find((r) => r.kind === k) || {}).amount_minor : 0;
    const f = field({ name: `rates.${k}`, label: `${RATE_LABELS[k]}, ${cur}`, testid: `rate-input-${k}`, value: cur0 ? minorToDecimal(cur0, cur) : '', attrs: { inputmode: 'decimal', placeholder: '0' } });
    f.kind = k;
    return f;
  });
  s.append(h('details', { class: 'editor' }, h('summary', { testid: 'rates-edit' }, 'Publish a new rate card'),
    note(`Amounts in ${cur} (major units, e.g. 12.50). A new card applies to submissions from now on; earlier earnings are unchanged. Leave a kind empty or 0 to not pay for it; a license rate of 0 means that use cannot be requested.`),
    form({
      testid: 'rates-form',
      label: 'Rate card',
      submitLabel: 'Publish the rate card',
      submitTestid: 'rates-save',
      children: h('div', { class: 'grid' }, inputs),
      onSubmit: async () => {
        const rates = inputs.map((f) => {
          try {
            return { kind: f.kind, amount_minor: f.input.value.trim() ? parseMajor(f.input.value, cur) : 0 };
          } catch (e) {
            throw new InputError(`rates.${f.kind}`, e.message);
          }
        });
        const c = await put(path`/v1/programs/${program.id}/rates`, { rates });
        announce(`Rate card version ${c.version} is in force.`);
        reload();
      },
    })));
  return s;
}

function invitationStatus(inv) {
  if (inv.revoked_at) return 'revoked';
  if (new Date(inv.expires_at).getTime() < Date.now()) return 'expired';
  if (inv.uses >= inv.max_uses) return 'used_up';
  return 'active';
}

async function invitationsSection(program) {
  const fetchPage = (cursor) => get(path`/v1/programs/${program.id}/invitations`, { limit: 50, cursor });
  const s = section('Invitations', { testid: 'invitations-section' });
  const created = h('div', { 'aria-live': 'polite' });
  const columns = [
    ['For', (i) => i.email || 'Anyone with the link'],
    ['Uses', (i) => `${i.uses} of ${i.max_uses}`, 'num'],
    ['Expires', (i) => time(i.expires_at)],
    ['Status', (i) => badge(invitationStatus(i), label(invitationStatus(i)))],
    ['Created', (i) => time(i.created_at)],
    ['Action', (i) => (i.revoked_at ? '—' : actionButton('Revoke', async (b) => {
      const revoked = await post(path`/v1/invitations/${i.id}/revoke`, {});
      announce('Invitation revoked; its link no longer works.');
      b.closest('tr').replaceWith(list.t.makeRow(revoked));
    }, { testid: 'invitation-revoke', 'aria-label': `Revoke the invitation for ${i.email || 'anyone'} created ${dateText(i.created_at)}` }))],
  ];
  const list = await pagedTable(fetchPage, { caption: 'Invitations, newest first', testid: 'invitations', rowTestid: (i) => `invitation-${i.id}`, columns });
  if (program.status === 'closed') {
    s.append(note('The program is closed; no new invitations.'));
  } else {
    const email = field({ type: 'email', name: 'email', label: 'Only for this email (optional)', testid: 'invite-email', attrs: { maxlength: 254 } });
    const uses = field({ type: 'number', name: 'max_uses', label: 'How many artists may use it', testid: 'invite-max-uses', required: true, value: 1, attrs: { min: 1, max: 10000, step: 1 } });
    const expires = field({ type: 'datetime-local', name: 'expires_at', label: 'Expires (your local time)', testid: 'invite-expires', required: true, value: toLocalInput(new Date(Date.now() + 30 * 86400000)), hint: 'At most 366 days ahead.' });
    s.append(form({
      testid: 'invite-form',
      label: 'Create an invitation',
      submitLabel: 'Create an invitation',
      submitTestid: 'invite-submit',
      children: h('div', { class: 'grid' }, email, uses, expires),
      onSubmit: async (key) => {
        const body = { max_uses: intValue(uses.input, 'max_uses', { min: 1, max: 10000 }), expires_at: localToIso(expires.input.value) };
        if (email.input.value.trim()) body.email = email.input.value.trim();
        const inv = await post(path`/v1/programs/${program.id}/invitations`, body, { key });
        created.replaceChildren(createdInvitation(inv));
        created.querySelector('input').focus();
        list.t.prepend(inv);
      },
    }), created);
  }
  s.append(list);
  return s;
}

/* The new invitation's link, shown once, with a Copy button. */
function createdInvitation(inv) {
  const url = `${location.origin}/#/join/${inv.code}`;
  const f = field({ name: 'link', label: 'Invitation link', testid: 'invite-link', value: url, attrs: { readonly: true, spellcheck: 'false' } });
  const msg = h('span', { class: 'meta', role: 'status' });
  const copy = button('Copy link', async () => {
    const ok = await copyText(url, f.input);
    msg.textContent = ok ? ' Copied.' : ' Select the link and copy it.';
  }, { kind: 'primary', testid: 'invite-copy' });
  f.input.addEventListener('focus', () => f.input.select());
  return h('div', { class: 'callout callout-ok', testid: 'invite-created' },
    h('p', null, h('strong', null, 'Copy this link now: it is shown only once. '), 'Send it to the artist; it shows the terms in full before they join.'),
    f, h('div', { class: 'actions' }, copy, msg),
    h('p', { class: 'meta' }, 'Code: ', h('code', { testid: 'invite-code' }, inv.code)));
}

async function enrollmentsSection(program) {
  const fetchPage = (cursor) => get(path`/v1/programs/${program.id}/enrollments`, { limit: 50, cursor });
  return section('Artists', { testid: 'enrollments-section' }, await pagedTable(fetchPage, {
    caption: 'Enrolled artists',
    testid: 'enrollments',
    rowTestid: (e) => `enrollment-${e.id}`,
    empty: 'No artist has enrolled yet.',
    columns: [
      ['Artist', (e) => e.artist.display_name],
      ['Email', (e) => e.artist.email],
      ['Status', (e) => badge(e.status, label(e.status))],
      ['Terms', (e) => (e.needs_terms_acceptance ? `v${e.terms_version} (v${e.latest_terms_version} not yet accepted)` : `v${e.terms_version}`)],
      ['Joined', (e) => time(e.created_at)],
    ],
  }));
}

async function submissionsSection(program) {
  const fetchPage = (cursor) => get('/v1/submissions', { program_id: program.id, limit: 20, cursor });
  return section('Submissions', { testid: 'program-submissions-section' }, await pagedTable(fetchPage, {
    caption: 'Latest submissions',
    testid: 'program-submissions',
    rowTestid: (x) => `submission-${x.id}`,
    empty: 'No submissions yet.',
    columns: [
      ['Title', (x) => link(x.title, to('submissions', x.id))],
      ['Kind', (x) => KIND_LABELS[x.kind]],
      ['Status', (x) => badge(x.status, label(x.status))],
      ['Time left', (x) => timeLeft(x)],
      ['Artist', (x) => h('code', { title: x.artist_id }, shortId(x.artist_id))],
    ],
  }));
}
