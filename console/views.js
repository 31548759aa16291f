/*
 * views.js: renderings of API objects shared by several pages: terms,
 * rate cards, media, generation provenance, decisions, submission facts.
 */
import { h, dl, table, badge, prose, to } from './dom.js';
import { money, time, label, RATE_LABELS, KIND_LABELS, bytes, timeLeft, isOpen } from './format.js';

/* Every clause of a terms version in full: title, kind, key and body. */
export function termsView(terms, { level = 3 } = {}) {
  if (!terms) return h('p', { class: 'empty' }, 'No terms have been published yet.');
  return h('div', { class: 'terms', testid: 'terms' },
    h('p', { class: 'meta' }, `Version ${terms.version}, published `, time(terms.published_at), '.'),
    terms.confidential_until ? h('p', { class: 'meta' }, 'Confidentiality ends ', time(terms.confidential_until), '; after that every output may be shared.') : null,
    h('ol', { class: 'clauses' }, terms.clauses.map((c) => h('li', { testid: `terms-clause-${c.key}` },
      h('article', { class: 'clause' },
        h(`h${level}`, null, c.title),
        h('p', { class: 'meta' }, badge(c.kind, label(c.kind)), ' ', h('code', null, c.key)),
        prose(c.body))))));
}

/* The rate card as a table; kinds the program does not pay say so. */
export function ratesView(card, { caption = 'Rate card' } = {}) {
  if (!card) return h('p', { class: 'empty', testid: 'rates-empty' }, 'No rate card has been published yet.');
  return h('div', null,
    h('p', { class: 'meta' }, `Version ${card.version}, in force since `, time(card.effective_at), '.'),
    table({
      caption,
      testid: 'rates',
      rowTestid: (r) => `rate-${r.kind}`,
      columns: [
        ['For', (r) => RATE_LABELS[r.kind] || r.kind],
        ['Pays', (r) => (r.amount_minor > 0 ? money(r.amount_minor, card.currency) : 'Not offered'), 'num'],
      ],
      rows: card.rates,
    }));
}

function isVideo(item) {
  return /^video\//i.test(item.mime);
}

/* Media: a player for video, a link for anything else. */
export function mediaView(media) {
  if (!media || !media.length) return h('p', { class: 'empty' }, 'No media files.');
  return h('ul', { class: 'media', testid: 'submission-media' }, media.map((m) => {
    const meta = h('p', { class: 'meta' }, `${m.mime}, ${bytes(m.bytes)}, SHA-256 `, h('code', { class: 'hash' }, m.sha256));
    const a = h('a', { href: m.uri, testid: 'media-link', rel: 'noopener noreferrer', target: '_blank' }, m.uri);
    if (isVideo(m)) {
      return h('li', null, h('figure', null,
        h('video', { controls: true, preload: 'metadata', src: m.uri, testid: 'media-video', 'aria-label': `Video: ${m.uri}` },
          'Your browser cannot play this video. ', a.cloneNode(true)),
        h('figcaption', null, a, meta)));
    }
    return h('li', null, a, meta);
  }));
}

/* How a work was made. */
export function provenanceView(gen) {
  if (!gen) return h('p', { class: 'empty', testid: 'provenance' }, 'No generation details were given.');
  return h('div', { testid: 'provenance' }, dl([
    ['Model', gen.model],
    ['Model version', gen.model_version],
    ['Prompt', gen.prompt != null ? prose(gen.prompt) : null],
    ['Seed', gen.seed != null ? String(gen.seed) : null],
    ['Resolution', gen.resolution],
    ['Duration', gen.duration_s != null ? `${gen.duration_s} s` : null],
  ]));
}

/* The clause texts a decision cites, from the submission's terms version. */
export function citedClauses(keys, terms) {
  if (!keys || !keys.length) return null;
  const byKey = new Map((terms ? terms.clauses : []).map((c) => [c.key, c]));
  return h('div', { class: 'cited' }, h('p', { class: 'meta' }, `Cites ${keys.length === 1 ? 'clause' : 'clauses'} of terms version ${terms ? terms.version : '?'}:`),
    keys.map((k) => {
      const c = byKey.get(k);
      return h('blockquote', { class: 'clause-quote', testid: `cited-clause-${k}` },
        h('p', { class: 'clause-title' }, c ? c.title : k, ' ', h('code', null, k)),
        c ? prose(c.body) : h('p', null, 'This clause could not be loaded.'));
    }));
}

export function decisionsView(decisions, terms, { reviewerName } = {}) {
  if (!decisions || !decisions.length) return h('p', { class: 'empty', testid: 'decisions' }, 'No decision yet.');
  return h('ol', { class: 'decisions', testid: 'decisions' }, decisions.map((d, i) => h('li', { testid: `decision-${i}` },
    h('p', null, badge(d.outcome, label(d.outcome)), d.on_appeal ? ' on appeal ' : ' ', time(d.decided_at),
      d.decided_by ? h('span', { class: 'meta' }, ` by ${reviewerName ? reviewerName(d.decided_by) : 'a reviewer'}`) : h('span', { class: 'meta' }, ' (no decision came by the deadline)')),
    d.reason ? h('div', { class: 'reason' }, h('p', { class: 'meta' }, 'Reason:'), prose(d.reason)) : null,
    citedClauses(d.clause_keys, terms))));
}

/* Key facts about a submission. */
export function submissionFacts(s, program) {
  return dl([
    ['Status', badge(s.status, label(s.status)), 'submission-status'],
    ['Kind', KIND_LABELS[s.kind] || s.kind],
    ['Program', program ? h('a', { href: to('programs', program.id) }, program.name) : null],
    ['Time left until deemed approval', isOpen(s.status) ? h('span', null, timeLeft(s), ' (due ', time(s.review_due_at), ')') : null, 'submission-time-left'],
    ['Hours', s.hours != null ? String(s.hours) : null],
    ['Submitted', time(s.created_at)],
    ['Decided', s.decided_at ? time(s.decided_at) : null],
    ['Terms version', String(s.terms_version)],
    ['May be shared', s.shareable ? 'Yes' : 'Not yet', 'submission-shareable'],
  ]);
}
