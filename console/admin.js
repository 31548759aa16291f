/*
 * admin.js: #/admin/users (list, create), #/admin/audit (filtered audit
 * log; finance users see ledger entities only) and #/settings (email
 * notification preferences, for every user).
 */
import { get, post, put } from './api.js';
import { h, pageHead, section, badge, announce, note } from './dom.js';
import { field, form, pagedTable } from './forms.js';
import { setQuery } from './router.js';
import { time, label, shortId, localToIso, toLocalInput, EVENT_TYPES } from './format.js';
import { is } from './session.js';

const ROLES = ['admin', 'staff', 'finance', 'artist'];

export async function usersPage(root, ctx) {
  const role = ROLES.includes(ctx.query.role) ? ctx.query.role : '';
  const fetchPage = (cursor) => get('/v1/users', { role, limit: 50, cursor });
  const filter = field({ type: 'select', name: 'role', label: 'Role', testid: 'users-filter-role', value: role, options: [['', 'All roles'], ...ROLES.map((r) => [r, label(r)])] });
  filter.input.addEventListener('change', () => {
    setQuery({ role: filter.input.value });
    usersPage(root, { ...ctx, query: { role: filter.input.value } }).catch((e) => announce(e.message, 'error'));
  });
  const columns = [
    ['Name', (u) => u.display_name],
    ['Email', (u) => u.email],
    ['Role', (u) => badge('role', u.role)],
    ['Created', (u) => time(u.created_at)],
    ['Audit', (u) => h('a', { href: `#/admin/audit?actor_id=${encodeURIComponent(u.id)}`, 'aria-label': `Their changes: audit entries by ${u.display_name}` }, 'Their changes')],
  ];
  const list = await pagedTable(fetchPage, { caption: 'Users', testid: 'users', rowTestid: (u) => `user-${u.id}`, columns });
  if (!ctx.alive()) return;
  pageHead(root, 'Users');
  root.append(section('All users', null, h('div', { class: 'filters' }, filter), list));

  const email = field({ type: 'email', name: 'email', label: 'Email', testid: 'user-email', required: true, attrs: { maxlength: 254, autocomplete: 'off' } });
  const name = field({ name: 'display_name', label: 'Display name', testid: 'user-display-name', required: true, attrs: { maxlength: 100, autocomplete: 'off' } });
  const newRole = field({ type: 'select', name: 'role', label: 'Role', testid: 'user-role', value: 'staff', options: ROLES.map((r) => [r, label(r)]) });
  const password = field({ type: 'password', name: 'password', label: 'Initial password', testid: 'user-password', required: true, hint: '8 to 256 characters. Share it safely; the person signs in with it.', attrs: { minlength: 8, maxlength: 256, autocomplete: 'new-password' } });
  root.append(section('Create a user', null, note('Artists usually join through an invitation link instead.'), form({
    testid: 'user-form',
    label: 'Create a user',
    submitLabel: 'Create the user',
    submitTestid: 'user-submit',
    children: h('div', { class: 'grid' }, email, name, newRole, password),
    onSubmit: async (key) => {
      const u = await post('/v1/users', { email: email.input.value.trim(), display_name: name.input.value.trim(), role: newRole.input.value, password: password.input.value }, { key });
      announce(`Created ${u.display_name} (${u.role}).`);
      list.t.prepend(u);
      for (const f of [email, name, password]) f.input.value = '';
    },
  })));
}

/* An audit entry's state as pretty JSON; none before a creation or after a deletion. */
function state(v, none) {
  return v == null ? h('p', { class: 'empty' }, none) : h('pre', null, JSON.stringify(v, null, 2));
}

export async function auditPage(root, ctx) {
  const q = ctx.query;
  pageHead(root, 'Audit log', h('p', { class: 'lead' }, is('finance') ? 'Changes to ledger accounts, transactions and payouts, newest first.' : 'Every change, who made it and the request it came from, newest first.'));
  const f = {
    entity_type: field({ name: 'entity_type', label: 'Entity type', testid: 'audit-entity-type', value: q.entity_type, hint: 'e.g. program, submission, ledger_transaction', attrs: { list: 'entity-types' } }),
    entity_id: field({ name: 'entity_id', label: 'Entity id', testid: 'audit-entity-id', value: q.entity_id, attrs: { spellcheck: 'false' } }),
    actor_id: field({ name: 'actor_id', label: 'Actor id', testid: 'audit-actor-id', value: q.actor_id, attrs: { spellcheck: 'false' } }),
    from: field({ type: 'datetime-local', name: 'from', label: 'From (your local time)', testid: 'audit-from', value: q.from ? toLocalInput(new Date(q.from)) : '' }),
    to: field({ type: 'datetime-local', name: 'to', label: 'To (your local time)', testid: 'audit-to', value: q.to ? toLocalInput(new Date(q.to)) : '' }),
  };
  const types = h('datalist', { id: 'entity-types' }, ['user', 'session', 'program', 'terms', 'rate_card', 'invitation', 'enrollment', 'submission', 'ledger_account', 'ledger_transaction', 'payout_batch', 'payout_item', 'webhook', 'license_request', 'license'].map((v) => h('option', { value: v })));
  const out = h('div');
  const load = async () => {
    const params = {
      entity_type: f.entity_type.input.value.trim(),
      entity_id: f.entity_id.input.value.trim(),
      actor_id: f.actor_id.input.value.trim(),
      from: localToIso(f.from.input.value),
      to: localToIso(f.to.input.value),
    };
    setQuery(params);
    const fetchPage = (cursor) => get('/v1/audit', { ...params, limit: 50, cursor });
    out.replaceChildren(await pagedTable(fetchPage, {
      caption: 'Audit entries',
      testid: 'audit',
      rowTestid: (e) => `audit-${e.id}`,
      empty: 'No entries match.',
      columns: [
        ['When', (e) => time(e.at)],
        ['Action', (e) => h('code', null, e.action)],
        ['Entity', (e) => h('span', null, `${e.entity_type} `, h('code', { title: e.entity_id }, shortId(e.entity_id)))],
        ['Actor', (e) => (e.actor_id ? h('span', null, h('code', { title: e.actor_id }, shortId(e.actor_id)), ` (${e.actor_role})`) : 'System')],
        ['Request', (e) => h('code', { title: e.request_id }, shortId(e.request_id))],
        ['Change', (e) => h('details', { class: 'json', testid: 'audit-details' }, h('summary', null, 'Before and after'),
          h('p', { class: 'meta' }, 'Before'), state(e.before, 'Nothing: it was created.'),
          h('p', { class: 'meta' }, 'After'), state(e.after, 'Nothing: it was deleted.'))],
      ],
    }));
  };
  root.append(section('Filters', null, form({
    testid: 'audit-form',
    label: 'Audit filters',
    submitLabel: 'Show entries',
    submitTestid: 'audit-submit',
    children: [h('div', { class: 'grid' }, Object.values(f)), types],
    onSubmit: load,
  })), section('Entries', null, out));
  await load();
}

export async function settingsPage(root, ctx) {
  const prefs = await get('/v1/me/notification-preferences');
  if (!ctx.alive()) return;
  pageHead(root, 'Settings');
  const events = EVENT_TYPES.filter((e) => e in prefs.email);
  const boxes = events.map((e) => field({ type: 'checkbox', name: `email.${e}`, label: e, testid: `pref-${e}`, value: prefs.email[e] }));
  root.append(section('Email notifications', null, form({
    testid: 'prefs-form',
    label: 'Email notifications',
    submitLabel: 'Save',
    submitTestid: 'prefs-save',
    children: [note('Choose which events you are emailed about.'), h('fieldset', { class: 'checks' }, h('legend', null, 'Email me about'), h('div', { class: 'check-list' }, boxes))],
    onSubmit: async () => {
      const email = {};
      events.forEach((e, i) => {
        email[e] = boxes[i].input.checked;
      });
      await put('/v1/me/notification-preferences', { email });
      announce('Notification preferences saved.');
    },
  })));
}

