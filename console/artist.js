/*
 * artist.js: the artist's pages. #/programs (enrollments and open
 * programs), #/programs/<id> (program, terms, rates, the submit form) and
 * #/money (balance and statement per program).
 */
import { ApiError, get, getAll, path, post, request } from './api.js';
import { h, pageHead, section, table, dl, badge, announce, note, link, to } from './dom.js';
import { field, form, repeater, rename, InputError, pagedTable } from './forms.js';
import { navigate, setQuery } from './router.js';
import { money, time, label, timeLeft, KIND_LABELS, dateText } from './format.js';
import { termsView, ratesView } from './views.js';

async function orNull(promise) {
  try {
    return await promise;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

export async function programsPage(root, ctx) {
  const [enrollments, programs, recent] = await Promise.all([
    getAll('/v1/me/enrollments'),
    getAll('/v1/programs'),
    get('/v1/submissions', { limit: 5 }),
  ]);
  if (!ctx.alive()) return;
  const byId = new Map(programs.map((p) => [p.id, p]));
  pageHead(root, 'Your programs');
  const mine = enrollments.filter((e) => byId.has(e.program_id));
  root.append(section('Programs you are in', null, table({
    caption: 'Your enrollments',
    testid: 'my-programs',
    rowTestid: (e) => `my-program-${e.program_id}`,
    empty: 'You have not joined a program yet. Open the invitation link a program sent you to join it.',
    columns: [
      ['Program', (e) => link(byId.get(e.program_id).name, to('programs', e.program_id))],
      ['Enrollment', (e) => badge(e.status, label(e.status))],
      ['Terms', (e) => (e.needs_terms_acceptance ? badge('changes_requested', `New terms v${e.latest_terms_version} to accept`) : `Version ${e.terms_version} accepted`)],
      ['Program status', (e) => label(byId.get(e.program_id).status)],
    ],
    rows: mine,
  })));
  const enrolled = new Set(enrollments.map((e) => e.program_id));
  const open = programs.filter((p) => !enrolled.has(p.id) && p.status === 'open');
  root.append(section('Open programs', null,
    note('To join one of these, ask the program for an invitation link.'),
    table({
      caption: 'Open programs you are not in',
      testid: 'open-programs',
      rowTestid: (p) => `open-program-${p.id}`,
      empty: 'No other programs are open right now.',
      columns: [
        ['Program', (p) => link(p.name, to('programs', p.id))],
        ['Review deadline', (p) => `${p.review_sla_hours} hours`],
        ['Transparency', (p) => (p.public_transparency ? link('Figures', to('t', p.id)) : 'Not published')],
      ],
      rows: open,
    })));
  root.append(section('Recent submissions', { testid: 'recent-submissions' },
    table({
      caption: 'Your latest submissions',
      testid: 'recent-submissions-table',
      empty: 'No submissions yet.',
      columns: [
        ['Title', (s) => link(s.title, to('submissions', s.id))],
        ['Program', (s) => (byId.get(s.program_id) || {}).name || '—'],
        ['Status', (s) => badge(s.status, label(s.status))],
        ['Time left', (s) => timeLeft(s)],
      ],
      rows: recent.items,
    }),
    h('p', null, link('All your submissions', '#/submissions'))));
}

/* The enrollment of the artist in a program: the active one, else the latest. */
async function myEnrollment(programId) {
  const all = (await getAll('/v1/me/enrollments')).filter((e) => e.program_id === programId);
  return all.find((e) => e.status === 'active') || all[0] || null;
}

export async function programPage(root, ctx) {
  const id = ctx.params.id;
  const [program, terms, rates, enrollment] = await Promise.all([
    get(path`/v1/programs/${id}`),
    orNull(get(path`/v1/programs/${id}/terms`)),
    orNull(get(path`/v1/programs/${id}/rates`)),
    myEnrollment(id),
  ]);
  if (!ctx.alive()) return;
  pageHead(root, program.name, h('p', { class: 'meta' }, 'Program ', h('span', { testid: 'program-status' }, badge(program.status, label(program.status)))));
  const h1 = root.querySelector('h1');
  h1.replaceChildren(h('span', { testid: 'program-name' }, program.name));
  if (program.description) root.append(h('p', { class: 'prose lead' }, program.description));

  const active = enrollment && enrollment.status === 'active';
  const enrollSection = section('Your enrollment', { testid: 'enrollment-status' });
  if (!enrollment) {
    enrollSection.append(h('p', null, 'You are not enrolled in this program. Open the invitation link the program sent you to join it.'));
  } else if (!active) {
    enrollSection.append(h('p', null, 'You withdrew from this program on ', time(enrollment.withdrawn_at), '. What you earned stays payable.'));
  } else {
    enrollSection.append(dl([
      ['Enrolled', time(enrollment.created_at)],
      ['Terms accepted', h('span', null, `Version ${enrollment.terms_version}, on `, time(enrollment.terms_accepted_at))],
    ]));
    if (enrollment.needs_terms_acceptance && terms) enrollSection.append(acceptTermsForm(enrollment, terms));
    enrollSection.append(withdrawControl(enrollment));
  }
  enrollSection.append(h('p', { class: 'links' },
    link('Your submissions here', `#/submissions?program=${encodeURIComponent(id)}`), ' · ', link('Your money', '#/money'),
    program.public_transparency ? [' · ', link('Transparency figures', to('t', id))] : null));
  root.append(enrollSection);

  if (active && program.status === 'open' && !enrollment.needs_terms_acceptance) {
    root.append(section('Submit a contribution', null, submitForm(program)));
  } else if (active && program.status !== 'open') {
    root.append(note(`The program is ${program.status}; it does not take submissions now.`));
  }
  root.append(section(terms ? `Terms, version ${terms.version}` : 'Terms', null, termsView(terms)));
  root.append(section('What the program pays', null, ratesView(rates)));
}

function acceptTermsForm(enrollment, terms) {
  const box = field({ type: 'checkbox', name: 'version', label: `I have read and accept terms version ${terms.version}`, testid: 'accept-terms-check', required: true });
  return h('div', { class: 'callout callout-warn' },
    h('p', null, `The program published new terms (version ${terms.version}). Read them below; you can submit again once you accept them.`),
    form({
      testid: 'accept-terms-form',
      submitLabel: `Accept version ${terms.version}`,
      submitTestid: 'accept-terms',
      children: [box],
      onSubmit: async () => {
        await post(path`/v1/enrollments/${enrollment.id}/accept-terms`, { version: terms.version });
        announce(`You accepted terms version ${terms.version}.`);
        navigate(`/programs/${encodeURIComponent(enrollment.program_id)}`);
      },
    }));
}

function withdrawControl(enrollment) {
  const reason = field({ type: 'textarea', name: 'reason', label: 'Reason (optional)', testid: 'withdraw-reason', rows: 2, attrs: { maxlength: 1000 } });
  const f = form({
    testid: 'withdraw-form',
    submitLabel: 'Leave the program',
    submitKind: 'danger',
    submitTestid: 'withdraw-confirm',
    children: [note('Leaving ends your enrollment. What you have earned stays payable.'), reason],
    onSubmit: async () => {
      const r = reason.input.value.trim();
      await post(path`/v1/enrollments/${enrollment.id}/withdraw`, r ? { reason: r } : {});
      announce('You left the program.');
      navigate(`/programs/${encodeURIComponent(enrollment.program_id)}`);
    },
  });
  return h('details', { class: 'danger-zone' }, h('summary', { testid: 'enrollment-withdraw' }, 'Leave this program'), f);
}

function mediaRow(data, removeBtn) {
  const legend = h('legend');
  const uri = field({ name: '', label: 'Address (https://…)', type: 'url', required: true, value: data.uri, attrs: { maxlength: 2048, inputmode: 'url' } });
  const sha = field({ name: '', label: 'SHA-256 (64 hex digits)', required: true, value: data.sha256, attrs: { pattern: '[0-9a-f]{64}', maxlength: 64, spellcheck: 'false', autocomplete: 'off' } });
  const size = field({ name: '', label: 'Size in bytes', type: 'number', required: true, value: data.bytes, attrs: { min: 0, step: 1 } });
  const mime = field({ name: '', label: 'Media type', required: true, value: data.mime || 'video/mp4', attrs: { maxlength: 255, list: 'mime-types' } });
  const el = h('fieldset', { class: 'row' }, legend, h('div', { class: 'grid' }, uri, sha, size, mime), h('div', { class: 'actions' }, removeBtn));
  return {
    el,
    read: () => ({ uri: uri.input.value.trim(), sha256: sha.input.value.trim().toLowerCase(), bytes: Number(size.input.value), mime: mime.input.value.trim() }),
    setIndex(i) {
      legend.textContent = `File ${i + 1}`;
      rename(uri, `media[${i}].uri`, `media-uri-${i}`);
      rename(sha, `media[${i}].sha256`, `media-sha256-${i}`);
      rename(size, `media[${i}].bytes`, `media-bytes-${i}`);
      rename(mime, `media[${i}].mime`, `media-mime-${i}`);
      removeBtn.setAttribute('data-testid', `media-remove-${i}`);
      removeBtn.setAttribute('aria-label', `Remove file ${i + 1}`);
    },
  };
}

function submitForm(program) {
  const kinds = program.submission_kinds;
  const kind = field({ type: 'select', name: 'kind', label: 'Kind', testid: 'submit-kind', required: true, options: kinds.map((k) => [k, KIND_LABELS[k] || k]) });
  const title = field({ name: 'title', label: 'Title', testid: 'submit-title', required: true, attrs: { maxlength: 200 } });
  const description = field({ type: 'textarea', name: 'description', label: 'Description', testid: 'submit-description', rows: 5, attrs: { maxlength: 10000 } });
  const hours = field({ type: 'number', name: 'hours', label: 'Hours spent in the session', testid: 'submit-hours', hint: 'From 0.01 to 24, in hundredths of an hour.', attrs: { min: '0.01', max: '24', step: '0.01', inputmode: 'decimal' } });
  const media = repeater({ legend: 'Media files', hint: 'Up to 20 files stored elsewhere; a video plays for the reviewer.', addLabel: 'Add a media file', addTestid: 'media-add', build: mediaRow });
  const g = {
    model: field({ name: 'generation.model', label: 'Model', testid: 'gen-model', hint: 'For example Sora, CogVideoX, Mochi 1, LTX Video, Pyramid Flow.', attrs: { maxlength: 100 } }),
    model_version: field({ name: 'generation.model_version', label: 'Model version', testid: 'gen-model-version', attrs: { maxlength: 100 } }),
    prompt: field({ type: 'textarea', name: 'generation.prompt', label: 'Prompt', testid: 'gen-prompt', rows: 3, attrs: { maxlength: 10000 } }),
    seed: field({ name: 'generation.seed', label: 'Seed', testid: 'gen-seed', attrs: { inputmode: 'numeric', pattern: '-?[0-9]{1,19}' } }),
    resolution: field({ name: 'generation.resolution', label: 'Resolution', testid: 'gen-resolution', hint: 'For example 1080p.', attrs: { maxlength: 32 } }),
    duration_s: field({ type: 'number', name: 'generation.duration_s', label: 'Duration in seconds', testid: 'gen-duration', attrs: { min: 0, max: 3600, step: 'any' } }),
  };
  const gen = h('fieldset', { class: 'group' }, h('legend', null, 'How it was made (optional)'),
    h('p', { class: 'hint' }, 'The generative model and settings. Leave empty if none was used; the model is needed if you fill in any other detail.'),
    h('div', { class: 'grid' }, Object.values(g)));
  const mimes = h('datalist', { id: 'mime-types' }, ['video/mp4', 'video/webm', 'video/quicktime', 'image/png', 'image/jpeg', 'application/pdf', 'text/plain'].map((m) => h('option', { value: m })));
  const syncKind = () => {
    hours.hidden = kind.input.value !== 'session';
    hours.input.required = kind.input.value === 'session';
  };
  kind.input.addEventListener('change', syncKind);
  syncKind();
  return form({
    testid: 'submit-form',
    label: 'Submit a contribution',
    submitLabel: 'Submit',
    submitTestid: 'submit-submit',
    children: [kind, title, description, hours, media, gen, mimes],
    onSubmit: async (key) => {
      const body = { kind: kind.input.value, title: title.input.value.trim(), description: description.input.value };
      if (body.kind === 'session') body.hours = Number(hours.input.value);
      const items = media.rows.map((r) => r.read());
      if (items.length) body.media = items;
      const gv = Object.fromEntries(Object.entries(g).map(([k, f]) => [k, f.input.value.trim()]));
      let seedText = null;
      if (Object.values(gv).some((v) => v !== '')) {
        if (!gv.model) throw new InputError('generation.model', 'Name the model, or leave all of these empty.');
        const gb = { model: gv.model };
        if (gv.model_version) gb.model_version = gv.model_version;
        if (g.prompt.input.value !== '') gb.prompt = g.prompt.input.value;
        if (gv.resolution) gb.resolution = gv.resolution;
        if (gv.duration_s) gb.duration_s = Number(gv.duration_s);
        if (gv.seed) {
          if (!/^-?\d{1,19}$/.test(gv.seed)) throw new InputError('generation.seed', 'Enter a whole number.');
          seedText = gv.seed.replace(/^(-?)0+(?=\d)/, '$1');
          gb.seed = '\u0000seed';
        }
        body.generation = gb;
      }
      /* The seed is a 64-bit integer: put its digits into the JSON as they are. */
      let json = JSON.stringify(body);
      if (seedText) json = json.replace('"\\u0000seed"', seedText);
      const { data } = await request('POST', path`/v1/programs/${program.id}/submissions`, { body: json, key });
      announce(`Submitted “${data.title}”. A decision is due by ${dateText(data.review_due_at)}.`);
      navigate(`/submissions/${encodeURIComponent(data.id)}`);
    },
  });
}

export async function moneyPage(root, ctx) {
  const [balance, programs] = await Promise.all([get('/v1/me/balance'), getAll('/v1/programs')]);
  if (!ctx.alive()) return;
  const byId = new Map(programs.map((p) => [p.id, p]));
  const nameOf = (pid) => (byId.get(pid) || {}).name || pid;
  pageHead(root, 'Your money');
  root.append(section('Balance per program', null, table({
    caption: 'Earned, paid and owed per program',
    testid: 'balances',
    rowTestid: (b) => `balance-${b.program_id}`,
    empty: 'Nothing earned yet. Approved and deemed approved submissions earn the rate card in force when you submitted them.',
    columns: [
      ['Program', (b) => nameOf(b.program_id)],
      ['Earned', (b) => money(b.earned_minor, b.currency), 'num'],
      ['Paid to you', (b) => money(b.paid_minor, b.currency), 'num'],
      ['Owed to you now', (b) => money(b.payable_minor, b.currency), 'num'],
    ],
    rows: balance.items,
  })));
  if (!balance.items.length) return;
  const chosen = balance.items.some((b) => b.program_id === ctx.query.program) ? ctx.query.program : balance.items[0].program_id;
  const prog = field({ type: 'select', name: 'program_id', label: 'Program', testid: 'statement-program', value: chosen, options: balance.items.map((b) => [b.program_id, nameOf(b.program_id)]) });
  const from = field({ type: 'date', name: 'from', label: 'From (UTC, inclusive)', testid: 'statement-from', value: ctx.query.from });
  const until = field({ type: 'date', name: 'to', label: 'To (UTC, exclusive)', testid: 'statement-to', value: ctx.query.to });
  const out = h('div', { 'aria-live': 'polite' });
  const load = async () => {
    const params = { program_id: prog.input.value, from: from.input.value ? `${from.input.value}T00:00:00Z` : null, to: until.input.value ? `${until.input.value}T00:00:00Z` : null };
    setQuery({ program: params.program_id, from: from.input.value, to: until.input.value });
    const fetchPage = (cursor) => get('/v1/me/statement', { ...params, limit: 50, cursor });
    out.replaceChildren(await pagedTable(fetchPage, {
      caption: `Statement for ${nameOf(params.program_id)}`,
      testid: 'statement',
      empty: 'No ledger lines in this period.',
      columns: [
        ['Date', (l) => time(l.at)],
        ['What', (l) => label(l.kind)],
        ['Memo', (l) => l.memo || '—'],
        ['Amount', (l) => money(l.amount_minor, l.currency), 'num'],
        ['Owed after', (l) => money(l.balance_minor, l.currency), 'num'],
      ],
    }));
  };
  const f = form({
    testid: 'statement-form',
    label: 'Statement period',
    submitLabel: 'Show statement',
    submitKind: 'secondary',
    submitTestid: 'statement-submit',
    class: 'inline',
    children: [prog, from, until],
    onSubmit: load,
  });
  root.append(section('Statement', null, f, out));
  await load();
}
