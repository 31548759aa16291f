/*
 * finance.js: #/finance?program=<id>. Accounts and balances, funding,
 * manual adjustments (entries editor), transactions and reversals, payout
 * batches (draft, approval by a second finance user, items paid or
 * failed), and ledger exports by period as CSV or JSONL downloads.
 * Every money movement carries an Idempotency-Key. Admins read only.
 */
import { get, getAll, path, post, newKey } from './api.js';
import { h, pageHead, section, table, dl, badge, announce, link, note, button } from './dom.js';
import { field, form, repeater, rename, actionButton, InputError, reportError, pagedTable, confirmForm } from './forms.js';
import { setQuery } from './router.js';
import { money, time, label, shortId, parseMajor, dateText } from './format.js';
import { is, user } from './session.js';

function accountName(a) {
  if (!a) return 'Unknown account';
  return a.kind === 'payable' ? `Payable to artist ${shortId(a.owner_id)}` : label(a.kind);
}

function amountInput(o, cur, { allowNegative = false } = {}) {
  try {
    return parseMajor(o.input.value, cur, { allowNegative });
  } catch (e) {
    throw new InputError(o.input.dataset.field, e.message);
  }
}

export async function page(root, ctx) {
  const programs = await getAll('/v1/programs');
  if (!ctx.alive()) return;
  pageHead(root, 'Finance', h('p', { class: 'lead' }, 'Double-entry ledger per program: every transaction sums to zero; corrections are reversals.'));
  if (!programs.length) {
    root.append(h('p', { class: 'empty' }, 'There are no programs yet.'));
    return;
  }
  const chosen = programs.some((p) => p.id === ctx.query.program) ? ctx.query.program : programs[0].id;
  const prog = field({ type: 'select', name: 'program_id', label: 'Program', testid: 'finance-program', value: chosen, options: programs.map((p) => [p.id, `${p.name} (${p.currency})`]) });
  const body = h('div');
  root.append(h('div', { class: 'filters card' }, prog), body);
  const show = async () => {
    setQuery({ program: prog.input.value });
    body.replaceChildren(h('p', { class: 'loading' }, 'Loading…'));
    await programView(body, programs.find((p) => p.id === prog.input.value));
  };
  prog.input.addEventListener('change', () => show().catch(reportError));
  await show();
}

async function programView(body, program) {
  const canMove = is('finance');
  const cur = program.currency;
  const accountsBox = h('div');
  const txBox = h('div');
  const batchesBox = h('div');
  const batchDetail = h('div');
  let accounts = [];
  let adjust = null;

  async function loadAccounts() {
    accounts = await getAll('/v1/ledger/accounts', { program_id: program.id });
    const sum = (kind) => accounts.filter((a) => a.kind === kind).reduce((n, a) => n + a.balance_minor, 0);
    const cash = sum('cash');
    const payable = sum('payable');
    accountsBox.replaceChildren(
      dl([
        ['Cash on hand', money(cash, cur), 'finance-cash'],
        ['Owed to artists', money(payable, cur), 'finance-payable'],
        ['Funded in total', money(sum('funding'), cur)],
        ['Earned by artists', money(sum('expense'), cur)],
      ], 'facts facts-wide'),
      cash < payable ? h('p', { class: 'callout callout-warn' }, 'Cash on hand is less than what the program owes its artists.') : '',
      table({
        caption: 'Accounts and balances',
        testid: 'accounts',
        rowTestid: (a) => `account-${a.id}`,
        empty: 'No accounts yet: they appear with the first posting.',
        columns: [
          ['Account', (a) => (a.kind === 'payable' ? h('span', null, 'Payable to artist ', h('code', { title: a.owner_id }, shortId(a.owner_id))) : label(a.kind))],
          ['Balance', (a) => money(a.balance_minor, a.currency), 'num'],
          ['Earned', (a) => (a.kind === 'payable' ? money(a.earned_minor, a.currency) : '—'), 'num'],
          ['Paid', (a) => (a.kind === 'payable' ? money(a.paid_minor, a.currency) : '—'), 'num'],
          ['Entries', (a) => String(a.version), 'num'],
        ],
        rows: accounts,
      }));
  }

  const txFrom = field({ type: 'date', name: 'from', label: 'From (UTC, inclusive)', testid: 'tx-from' });
  const txTo = field({ type: 'date', name: 'to', label: 'To (UTC, exclusive)', testid: 'tx-to' });
  async function loadTransactions() {
    const params = { program_id: program.id, from: txFrom.input.value ? `${txFrom.input.value}T00:00:00Z` : null, to: txTo.input.value ? `${txTo.input.value}T00:00:00Z` : null };
    const fetchPage = (cursor) => get('/v1/ledger/transactions', { ...params, limit: 50, cursor });
    txBox.replaceChildren(await pagedTable(fetchPage, {
      caption: 'Transactions',
      testid: 'transactions',
      rowTestid: (x) => `transaction-${x.id}`,
      empty: 'No transactions in this period.',
      columns: [
        ['Posted', (x) => time(x.created_at)],
        ['Kind', (x) => label(x.kind)],
        ['Memo', (x) => x.memo || '—'],
        ['Entries', (x) => h('ul', { class: 'entries' }, x.entries.map((e) => h('li', null,
          e.account_kind === 'payable' ? `Payable ${shortId(e.owner_id)}` : label(e.account_kind), ' ', h('span', { class: 'num' }, money(e.amount_minor, x.currency)), e.amount_minor > 0 ? ' Dr' : ' Cr')))],
        ['Reversal', (x) => (x.reversed_by ? `Reversed by ${shortId(x.reversed_by)}` : x.reverses ? `Reverses ${shortId(x.reverses)}` : '—')],
        canMove ? ['Action', (x) => (x.reversed_by ? '—' : reverseControl(x))] : null,
      ].filter(Boolean),
    }));
  }

  function reverseControl(x) {
    const memo = field({ name: 'memo', label: 'Memo for the reversal', testid: 'reverse-memo', value: `Reversal of ${shortId(x.id)}`, attrs: { maxlength: 1000 } });
    return confirmForm('Reverse', 'transaction-reverse', {
      testid: 'reverse-form',
      submitLabel: 'Post the reversal',
      submitKind: 'danger',
      submitTestid: 'reverse-confirm',
      children: [memo],
      onSubmit: async (key) => {
        await post(path`/v1/ledger/transactions/${x.id}/reverse`, { memo: memo.input.value.trim() }, { key });
        announce('Reversal posted.');
        await refreshMoney();
      },
    });
  }

  async function refreshMoney() {
    await loadAccounts();
    await Promise.all([loadTransactions(), loadBatches()]);
    if (adjust) adjust.refreshAccounts();
  }

  async function loadBatches() {
    const fetchPage = (cursor) => get(path`/v1/programs/${program.id}/payout-batches`, { limit: 20, cursor });
    batchesBox.replaceChildren(await pagedTable(fetchPage, {
      caption: 'Payout batches, newest first',
      testid: 'batches',
      rowTestid: (b) => `batch-${b.id}`,
      empty: 'No payout batches yet.',
      columns: [
        ['Drafted', (b) => time(b.created_at)],
        ['Status', (b) => badge(b.status === 'approved' ? 'approved' : 'pending', label(b.status))],
        ['Total', (b) => money(b.total_minor, b.currency), 'num'],
        ['Artists', (b) => String(b.items.length), 'num'],
        ['Detail', (b) => button('Open', () => showBatch(b.id).catch(reportError), { testid: 'batch-open', 'aria-label': `Open the batch drafted ${dateText(b.created_at)}` })],
      ],
    }));
  }

  async function showBatch(id) {
    const b = await get(path`/v1/payout-batches/${id}`);
    const me = user();
    const actions = h('div', { class: 'actions' });
    if (canMove && b.status === 'draft') {
      if (b.created_by === me.id) actions.append(note('You drafted this batch: another finance user must approve it (four eyes).'));
      else {
        actions.append(actionButton(`Approve and post ${money(b.total_minor, b.currency)}`, async () => {
          await post(path`/v1/payout-batches/${b.id}/approve`, {}, { key: newKey() });
          announce('Batch approved: payouts posted.');
          await refreshMoney();
          await showBatch(b.id);
        }, { kind: 'primary', testid: 'batch-approve' }));
      }
    }
    if (canMove) actions.append(link('Download bank file (CSV)', path`/v1/exports/payout-batches/${b.id}` + '?format=csv', { testid: 'batch-export', download: `payout-batch-${shortId(b.id)}.csv`, class: 'btn btn-secondary' }));
    const items = table({
      caption: 'Items, one per artist',
      testid: 'batch-items',
      rowTestid: (i) => `item-${i.id}`,
      columns: [
        ['Artist', (i) => h('code', { title: i.artist_id }, shortId(i.artist_id))],
        ['Amount', (i) => money(i.amount_minor, b.currency), 'num'],
        ['Status', (i) => badge(i.status === 'failed' ? 'rejected' : i.status === 'paid' ? 'approved' : 'pending', label(i.status))],
        ['Reference or reason', (i) => i.external_ref || i.failure_reason || '—'],
        canMove ? ['Action', (i) => (i.status === 'posted' ? itemActions(b, i) : '—')] : null,
      ].filter(Boolean),
      rows: b.items,
    });
    const s = section('Payout batch', { testid: 'batch-detail' },
      dl([
        ['Status', label(b.status)],
        ['Total', money(b.total_minor, b.currency)],
        ['Minimum per artist', money(b.min_amount_minor, b.currency)],
        ['Drafted', h('span', null, time(b.created_at), ` by ${b.created_by === me.id ? 'you' : shortId(b.created_by)}`)],
        ['Approved', b.approved_at ? h('span', null, time(b.approved_at), ` by ${b.approved_by === me.id ? 'you' : shortId(b.approved_by)}`) : 'Not yet'],
      ]),
      actions, items);
    batchDetail.replaceChildren(s);
    s.heading.setAttribute('tabindex', '-1');
    s.heading.focus();
  }

  function itemActions(b, i) {
    const ref = field({ name: 'external_ref', label: 'Payment reference', testid: 'item-paid-ref', required: true, attrs: { maxlength: 200 } });
    const reason = field({ type: 'textarea', name: 'reason', label: 'Why it failed', testid: 'item-failed-reason', required: true, rows: 2, attrs: { maxlength: 1000 } });
    const after = async (msg) => {
      announce(msg);
      await refreshMoney();
      await showBatch(b.id);
    };
    return h('div', { class: 'item-actions' },
      confirmForm('Mark paid', 'item-paid-open', {
        testid: 'item-paid-form',
        submitLabel: 'Mark paid',
        submitTestid: 'item-paid',
        children: [ref],
        onSubmit: async (key) => {
          await post(path`/v1/payout-batches/${b.id}/items/${i.id}/paid`, { external_ref: ref.input.value.trim() }, { key });
          await after('Item marked paid.');
        },
      }),
      confirmForm('Mark failed', 'item-failed-open', {
        testid: 'item-failed-form',
        submitLabel: 'Mark failed',
        submitKind: 'danger',
        submitTestid: 'item-failed',
        children: [note('The amount becomes payable to the artist again.'), reason],
        onSubmit: async (key) => {
          await post(path`/v1/payout-batches/${b.id}/items/${i.id}/failed`, { reason: reason.input.value }, { key });
          await after('Item marked failed; the amount is payable again.');
        },
      }));
  }

  await loadAccounts();
  await Promise.all([loadTransactions(), loadBatches()]);

  const parts = [section('Accounts', { testid: 'accounts-section' }, accountsBox)];
  if (canMove) {
    const amount = field({ name: 'amount_minor', label: `Amount in ${cur}`, testid: 'funding-amount', required: true, hint: 'In major units, e.g. 5000.00.', attrs: { inputmode: 'decimal' } });
    const memo = field({ name: 'memo', label: 'Memo', testid: 'funding-memo', attrs: { maxlength: 1000 } });
    parts.push(section('Fund the program', null, note('Debits cash and credits funding.'), form({
      testid: 'funding-form',
      label: 'Fund the program',
      submitLabel: 'Post the funding',
      submitTestid: 'funding-submit',
      class: 'inline',
      children: [amount, memo],
      onSubmit: async (key) => {
        const minor = amountInput(amount, cur);
        if (minor < 1) throw new InputError('amount_minor', 'Enter an amount above zero.');
        await post(path`/v1/programs/${program.id}/funding`, { amount_minor: minor, memo: memo.input.value.trim() }, { key });
        announce(`Funding of ${money(minor, cur)} posted.`);
        amount.input.value = '';
        memo.input.value = '';
        await refreshMoney();
      },
    })));
    adjust = adjustmentForm(program, () => accounts, refreshMoney);
    parts.push(section('Manual adjustment', null, adjust));
  }
  parts.push(section('Transactions', { testid: 'transactions-section' },
    h('div', { class: 'filters' }, txFrom, txTo, button('Show', () => loadTransactions().catch(reportError), { testid: 'tx-filter' })), txBox));
  const draft = canMove ? batchDraftForm(program, async (b) => {
    await loadBatches();
    await showBatch(b.id);
  }) : null;
  parts.push(section('Payout batches', { testid: 'batches-section' }, draft, batchesBox), batchDetail);
  if (canMove) parts.push(exportSection(program));
  body.replaceChildren(...parts);
}

function adjustmentForm(program, getAccounts, done) {
  const cur = program.currency;
  const memo = field({ name: 'memo', label: 'Memo', testid: 'adjust-memo', attrs: { maxlength: 1000 } });
  const sum = h('p', { class: 'meta', testid: 'adjust-sum', 'aria-live': 'polite' });
  const options = () => getAccounts().map((a) => [a.id, accountName(a)]);
  let entries = null;
  const updateSum = () => {
    if (!entries) return;
    let total = 0;
    let ok = true;
    for (const r of entries.rows) {
      try {
        total += parseMajor(r.amount.input.value, cur, { allowNegative: true });
      } catch {
        ok = false;
      }
    }
    sum.textContent = !ok ? 'Sum of entries: enter a valid amount in every entry.'
      : `Sum of entries: ${money(total, cur)}${total === 0 ? ' (balanced)' : ' (must be zero)'}`;
  };
  entries = repeater({
    legend: 'Entries',
    hint: `Positive amounts debit an account, negative amounts credit it, in ${cur}. The entries must sum to zero; an artist’s payable may not go below zero.`,
    addLabel: 'Add an entry',
    addTestid: 'adjust-add',
    min: 2,
    onChange: () => updateSum(),
    build: (data, removeBtn) => {
      const legend = h('legend');
      const account = field({ type: 'select', name: '', label: 'Account', options: options() });
      const amount = field({ name: '', label: `Amount (${cur})`, attrs: { inputmode: 'decimal', placeholder: '-12.50' } });
      amount.input.addEventListener('input', updateSum);
      return {
        el: h('fieldset', { class: 'row' }, legend, h('div', { class: 'grid' }, account, amount), h('div', { class: 'actions' }, removeBtn)),
        amount,
        account,
        setIndex(i) {
          legend.textContent = `Entry ${i + 1}`;
          rename(account, `entries[${i}].account_id`, `adjust-account-${i}`);
          rename(amount, `entries[${i}].amount_minor`, `adjust-amount-${i}`);
          removeBtn.setAttribute('data-testid', `adjust-remove-${i}`);
          removeBtn.setAttribute('aria-label', `Remove entry ${i + 1}`);
        },
      };
    },
    initial: [{}, {}],
  });
  const f = form({
    testid: 'adjust-form',
    label: 'Manual adjustment',
    submitLabel: 'Post the adjustment',
    submitTestid: 'adjust-submit',
    children: [note('Corrections of posted transactions are better made by reversing them.'), memo, entries, sum],
    onSubmit: async (key) => {
      const list = entries.rows.map((r) => ({ account_id: r.account.input.value, amount_minor: amountInput(r.amount, cur, { allowNegative: true }) }));
      await post('/v1/ledger/transactions', { program_id: program.id, memo: memo.input.value.trim(), entries: list }, { key });
      announce('Adjustment posted.');
      memo.input.value = '';
      entries.reset([{}, {}]);
      await done();
    },
  });
  f.refreshAccounts = () => {
    for (const r of entries.rows) {
      const sel = r.account.input;
      const v = sel.value;
      sel.replaceChildren(...options().map(([id, text]) => h('option', { value: id, selected: id === v }, text)));
    }
  };
  updateSum();
  return f;
}

function batchDraftForm(program, done) {
  const cur = program.currency;
  const min = field({ name: 'min_amount_minor', label: `Pay artists owed at least (${cur}, optional)`, testid: 'batch-min', attrs: { inputmode: 'decimal' } });
  return form({
    testid: 'batch-draft-form',
    label: 'Draft a payout batch',
    submitLabel: 'Draft a payout batch',
    submitTestid: 'batch-draft-submit',
    class: 'inline',
    children: [min, note('One item per artist owed at least the minimum. Another finance user approves it.')],
    onSubmit: async (key) => {
      const body = {};
      if (min.input.value.trim()) {
        body.min_amount_minor = amountInput(min, cur);
        if (body.min_amount_minor < 1) throw new InputError('min_amount_minor', 'Enter an amount above zero, or leave it empty.');
      }
      const b = await post(path`/v1/programs/${program.id}/payout-batches`, body, { key });
      announce(`Batch drafted: ${b.items.length} ${b.items.length === 1 ? 'artist' : 'artists'}, ${money(b.total_minor, b.currency)}. It needs another finance user’s approval.`);
      await done(b);
    },
  });
}

function exportSection(program) {
  const from = field({ type: 'date', name: 'from', label: 'From (UTC, inclusive)', testid: 'export-from' });
  const to = field({ type: 'date', name: 'to', label: 'To (UTC, exclusive)', testid: 'export-to' });
  const format = field({ type: 'select', name: 'format', label: 'Format', testid: 'export-format', options: [['csv', 'CSV (spreadsheets, RFC 4180)'], ['jsonl', 'JSON Lines']] });
  const a = h('a', { class: 'btn btn-primary', testid: 'export-link' }, 'Download the ledger');
  const update = () => {
    const params = new URLSearchParams({ program_id: program.id, format: format.input.value });
    if (from.input.value) params.set('from', `${from.input.value}T00:00:00Z`);
    if (to.input.value) params.set('to', `${to.input.value}T00:00:00Z`);
    a.setAttribute('href', `/v1/exports/ledger?${params}`);
    const span = [from.input.value || 'start', to.input.value || 'now'].join('_to_');
    a.setAttribute('download', `ledger-${program.slug}-${span}.${format.input.value}`);
  };
  for (const f of [from, to, format]) f.input.addEventListener('change', update);
  update();
  return section('Export the ledger', { testid: 'export-section' },
    note('Every entry of the program, oldest first; the period limits it to transactions posted in it.'),
    h('div', { class: 'filters' }, from, to, format), h('div', { class: 'actions' }, a));
}
