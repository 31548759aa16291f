/*
 * webhooks.js: #/webhooks?program=<id>. A program's webhooks, creating one
 * (its signing secret shown once), their deliveries and retrying dead ones.
 */
import { get, getAll, path, post, newKey } from './api.js';
import { h, pageHead, section, badge, announce, button, copyText } from './dom.js';
import { field, form, checkGroup, actionButton, InputError, reportError, pagedTable } from './forms.js';
import { setQuery } from './router.js';
import { time, label, EVENT_TYPES } from './format.js';

const DELIVERY_STATUSES = ['pending', 'in_flight', 'delivered', 'dead'];

export async function page(root, ctx) {
  const programs = await getAll('/v1/programs');
  if (!ctx.alive()) return;
  pageHead(root, 'Webhooks', h('p', { class: 'lead' }, 'Signed HTTP callbacks (Standard Webhooks) for a program’s events, delivered at least once with retries.'));
  if (!programs.length) {
    root.append(h('p', { class: 'empty' }, 'There are no programs yet.'));
    return;
  }
  const chosen = programs.some((p) => p.id === ctx.query.program) ? ctx.query.program : programs[0].id;
  const prog = field({ type: 'select', name: 'program_id', label: 'Program', testid: 'webhook-program', value: chosen, options: programs.map((p) => [p.id, p.name]) });
  const body = h('div');
  prog.input.addEventListener('change', () => {
    setQuery({ program: prog.input.value });
    load().catch((e) => announce(e.message, 'error'));
  });
  root.append(h('div', { class: 'filters card' }, prog), body);

  async function load() {
    const pid = prog.input.value;
    const fetchPage = (cursor) => get('/v1/webhooks', { program_id: pid, limit: 50, cursor });
    const deliveries = h('div');
    const columns = [
      ['URL', (w) => h('code', { class: 'wrap' }, w.url)],
      ['Events', (w) => w.events.join(', ')],
      ['Status', (w) => (w.disabled_at ? badge('withdrawn', 'Disabled') : badge('approved', 'Active'))],
      ['Created', (w) => time(w.created_at)],
      ['Deliveries', (w) => button('Show deliveries', () => showDeliveries(w, deliveries).catch(reportError), { testid: 'webhook-deliveries', 'aria-label': `Show deliveries to ${w.url}` })],
    ];
    const list = await pagedTable(fetchPage, { caption: 'Webhooks of this program', testid: 'webhooks', rowTestid: (w) => `webhook-${w.id}`, columns });
    const created = h('div', { 'aria-live': 'polite' });
    const url = field({ type: 'url', name: 'url', label: 'Receiver URL', testid: 'webhook-url', required: true, hint: 'http:// or https://, on a public host.', attrs: { maxlength: 2048, inputmode: 'url' } });
    const events = checkGroup({ legend: 'Events to deliver', name: 'events', options: EVENT_TYPES.map((e) => [e, e]), checked: [], testid: (e) => `webhook-event-${e}` });
    const f = form({
      testid: 'webhook-form',
      label: 'Add a webhook',
      submitLabel: 'Add the webhook',
      submitTestid: 'webhook-submit',
      children: [url, events],
      onSubmit: async (key) => {
        const ev = events.values();
        if (!ev.length) throw new InputError('events', 'Choose at least one event.');
        const w = await post('/v1/webhooks', { program_id: pid, url: url.input.value.trim(), events: ev }, { key });
        created.replaceChildren(createdWebhook(w));
        created.querySelector('input').focus();
        list.t.prepend({ ...w, disabled_at: null });
      },
    });
    body.replaceChildren(
      section('Webhooks', { testid: 'webhooks-section' }, list),
      deliveries,
      section('Add a webhook', null, f, created));
  }
  await load();
}

function createdWebhook(w) {
  const secret = field({ name: 'secret', label: 'Signing secret', testid: 'webhook-secret', value: w.secret, attrs: { readonly: true, spellcheck: 'false' } });
  const msg = h('span', { class: 'meta', role: 'status' });
  secret.input.addEventListener('focus', () => secret.input.select());
  return h('div', { class: 'callout callout-ok', testid: 'webhook-created' },
    h('p', null, h('strong', null, 'Copy the secret now: it is shown only once. '), 'The receiver uses it to check the webhook-signature header.'),
    secret,
    h('div', { class: 'actions' }, button('Copy secret', async () => {
      msg.textContent = (await copyText(w.secret, secret.input)) ? ' Copied.' : ' Select the secret and copy it.';
    }, { kind: 'primary', testid: 'webhook-copy' }), msg));
}

async function showDeliveries(w, holder) {
  const status = field({ type: 'select', name: 'status', label: 'Status', testid: 'delivery-status-filter', options: [['', 'Any status'], ...DELIVERY_STATUSES.map((s) => [s, label(s)])] });
  const out = h('div');
  const s = section('Deliveries', { testid: 'deliveries-section' }, h('p', { class: 'meta' }, 'To ', h('code', { class: 'wrap' }, w.url)), h('div', { class: 'filters' }, status), out);
  const load = async () => {
    const fetchPage = (cursor) => get(path`/v1/webhooks/${w.id}/deliveries`, { status: status.input.value, limit: 50, cursor });
    out.replaceChildren(await pagedTable(fetchPage, {
      caption: 'Deliveries, newest first',
      testid: 'deliveries',
      rowTestid: (d) => `delivery-${d.id}`,
      empty: 'No deliveries.',
      columns: [
        ['Event', (d) => d.event_type],
        ['Status', (d) => badge(d.status === 'dead' ? 'rejected' : d.status === 'delivered' ? 'approved' : 'pending', label(d.status))],
        ['Attempts', (d) => String(d.attempts), 'num'],
        ['Last answer', (d) => [d.last_status != null ? String(d.last_status) : '', d.last_error ? ` ${d.last_error}` : ''].join('').trim() || '—'],
        ['Next attempt', (d) => (d.status === 'pending' ? time(d.next_attempt_at) : '—')],
        ['Delivered', (d) => time(d.delivered_at)],
        ['Action', (d) => (d.status === 'dead' ? actionButton('Retry', async (b) => {
          const nd = await post(path`/v1/webhooks/${w.id}/deliveries/${d.id}/retry`, {}, { key: newKey() });
          announce('Delivery queued again.');
          void b;
          void nd;
          await load();
        }, { testid: 'delivery-retry' }) : '—')],
      ],
    }));
  };
  status.input.addEventListener('change', () => load().catch((e) => announce(e.message, 'error')));
  await load();
  holder.replaceChildren(s);
  s.heading.setAttribute('tabindex', '-1');
  s.heading.focus();
}

