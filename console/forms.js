/*
 * forms.js: labelled fields, forms that submit through the API with an
 * Idempotency-Key, and problem display: the problem's `detail` at the top
 * of the form and each `errors[].message` next to its field.
 */
import { ApiError, NetworkError, newKey } from './api.js';
import { h, uid, announce, button, table } from './dom.js';

/* A client-side check that failed, shaped like a validation problem. */
export class InputError extends Error {
  constructor(field, message) {
    super('Please correct the marked fields.');
    this.problem = { errors: [{ field, message }] };
  }

  get fieldErrors() {
    return this.problem.errors;
  }
}

/*
 * field({name, label, type, testid, hint, required, value, options, rows,
 * attrs}) -> <div class="field"> with .input. `name` is the API member the
 * server names in errors[].field.
 */
export function field(o) {
  const id = o.id || uid('in');
  const errId = `${id}-err`;
  const hintId = o.hint ? `${id}-hint` : null;
  let input;
  const common = {
    id,
    name: o.name,
    testid: o.testid,
    required: o.required || null,
    'aria-describedby': [hintId, errId].filter(Boolean).join(' '),
    ...(o.attrs || {}),
  };
  if (o.type === 'select') {
    input = h('select', common, (o.options || []).map(([v, l]) => h('option', { value: v, selected: String(v) === String(o.value ?? '') }, l)));
  } else if (o.type === 'textarea') {
    input = h('textarea', { rows: o.rows || 4, ...common });
    if (o.value != null) input.value = o.value;
  } else if (o.type === 'checkbox') {
    input = h('input', { type: 'checkbox', ...common, checked: !!o.value });
  } else {
    input = h('input', { type: o.type || 'text', ...common });
    if (o.value != null) input.value = o.value;
  }
  input.dataset.field = o.name || '';
  const error = h('p', { class: 'field-error', id: errId, hidden: true, testid: o.testid ? `${o.testid}-error` : null });
  input.errorEl = error;
  const lab = h('label', { for: id }, o.label, o.required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null);
  const hint = o.hint ? h('p', { class: 'hint', id: hintId }, o.hint) : null;
  const wrap = o.type === 'checkbox'
    ? h('div', { class: `field field-check ${o.class || ''}` }, input, lab, hint, error)
    : h('div', { class: `field ${o.class || ''}` }, lab, hint, input, error);
  wrap.input = input;
  return wrap;
}

/* A group of checkboxes in a fieldset; returns the fieldset with .values(). */
export function checkGroup({ legend, name, options, checked = [], testid, hint }) {
  const boxes = options.map(([value, text]) => {
    const f = field({ type: 'checkbox', name, label: text, value: checked.includes(value), testid: testid ? testid(value) : null });
    f.input.value = value;
    f.input.checked = checked.includes(value);
    return f;
  });
  const errId = uid('grp-err');
  const fs = h('fieldset', { class: 'checks', 'aria-describedby': errId },
    h('legend', null, legend), hint ? h('p', { class: 'hint' }, hint) : null,
    h('div', { class: 'check-list' }, boxes), h('p', { class: 'field-error', id: errId, hidden: true }));
  fs.dataset.field = name;
  fs.errorEl = fs.lastChild;
  fs.values = () => boxes.filter((b) => b.input.checked).map((b) => b.input.value);
  fs.boxes = boxes;
  return fs;
}

function clearErrors(form) {
  form.errorBox.hidden = true;
  form.errorBox.replaceChildren();
  for (const el of form.querySelectorAll('[aria-invalid="true"]')) el.removeAttribute('aria-invalid');
  for (const el of form.querySelectorAll('.field-error')) {
    el.hidden = true;
    el.textContent = '';
  }
}

function fieldElement(form, name) {
  for (const el of form.querySelectorAll('[data-field]')) if (el.dataset.field === name) return el;
  return null;
}

/* Shows an error inside a form: the detail at the top, fields at fields. */
export function showFormError(form, err) {
  clearErrors(form);
  const box = form.errorBox;
  box.append(h('span', null, err.message || 'Something went wrong.'));
  if (err instanceof ApiError && err.status === 429) {
    const after = err.headers && err.headers.get('Retry-After');
    if (after) box.append(` Try again in ${after} seconds.`);
  }
  const extra = [];
  if (err.problem && Array.isArray(err.problem.reasons)) for (const r of err.problem.reasons) extra.push(r);
  let first = null;
  for (const fe of err.fieldErrors || []) {
    const el = fieldElement(form, fe.field);
    if (el && el.errorEl) {
      el.setAttribute('aria-invalid', 'true');
      el.errorEl.hidden = false;
      el.errorEl.textContent = el.errorEl.textContent ? `${el.errorEl.textContent} ${fe.message}` : fe.message;
      first = first || el;
    } else {
      extra.push(fe.field ? `${fe.field}: ${fe.message}` : fe.message);
    }
  }
  if (extra.length) box.append(h('ul', null, extra.map((t) => h('li', null, t))));
  box.hidden = false;
  (first && first.matches('fieldset') ? first.querySelector('input') : first || box).focus();
}

/*
 * form({testid, submitLabel, submitTestid, onSubmit(key, form), children,
 * extraActions}). onSubmit gets the form's Idempotency-Key: made once per
 * submission and kept for a retry after a network failure or a 5xx, when
 * the server may or may not have done it.
 */
export function form(o) {
  const errorBox = h('div', { class: 'form-error', role: 'alert', tabindex: '-1', hidden: true, testid: o.testid ? `${o.testid}-error` : 'form-error' });
  const submit = h('button', { type: 'submit', class: `btn btn-${o.submitKind || 'primary'}`, testid: o.submitTestid }, o.submitLabel || 'Save');
  const f = h('form', { class: `form ${o.class || ''}`, testid: o.testid, novalidate: o.novalidate || null, 'aria-label': o.label || null },
    errorBox, o.children, h('div', { class: 'actions' }, submit, o.extraActions));
  f.errorBox = errorBox;
  f.submitButton = submit;
  f.idemKey = null;
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (f.busy) return;
    clearErrors(f);
    if (!f.checkValidity()) {
      f.reportValidity();
      return;
    }
    f.busy = true;
    submit.disabled = true;
    f.setAttribute('aria-busy', 'true');
    f.idemKey = f.idemKey || newKey();
    try {
      await o.onSubmit(f.idemKey, f);
      f.idemKey = null;
    } catch (err) {
      const retryable = err instanceof NetworkError || (err instanceof ApiError && (err.status >= 500 || err.kind === 'idempotency-in-flight'));
      if (!retryable) f.idemKey = null;
      if (f.isConnected) showFormError(f, err);
      else announce(err.message, 'error');
    } finally {
      f.busy = false;
      submit.disabled = false;
      f.removeAttribute('aria-busy');
    }
  });
  return f;
}

/* Reports an error from an action outside a form in the status region. */
export function reportError(err) {
  const fields = (err.fieldErrors || []).map((fe) => `${fe.field}: ${fe.message}`);
  announce([err.message, ...fields].join(' '), 'error');
}

/* A button that runs an async action once at a time and reports failures. */
export function actionButton(label, action, props = {}) {
  const b = button(label, async () => {
    if (b.disabled) return;
    b.disabled = true;
    b.setAttribute('aria-busy', 'true');
    try {
      await action(b);
    } catch (err) {
      reportError(err);
    } finally {
      b.disabled = false;
      b.removeAttribute('aria-busy');
    }
  }, props);
  return b;
}

/* 'Load more' under a paged list. fetchPage(cursor) -> {items, next_cursor}. */
export function pager(fetchPage, addItems, firstCursor, testid = 'load-more') {
  let cursor = firstCursor;
  const b = actionButton('Load more', async () => {
    const page = await fetchPage(cursor);
    addItems(page.items);
    cursor = page.next_cursor;
    b.hidden = !cursor;
  }, { testid });
  b.hidden = !cursor;
  return h('div', { class: 'pager' }, b);
}

/* A number input's value as an integer, or an InputError. */
export function intValue(input, name, { min, max } = {}) {
  const s = input.value.trim();
  if (!/^-?\d+$/.test(s)) throw new InputError(name, 'Enter a whole number.');
  const n = Number(s);
  if ((min != null && n < min) || (max != null && n > max)) throw new InputError(name, `Enter a number from ${min} to ${max}.`);
  return n;
}

/*
 * A fieldset of repeated rows (media files, clauses, ledger entries).
 * build(data, removeButton) -> {el, setIndex(i)}; setIndex renames the
 * row's fields (data-field such as media[2].uri, testids, legends) so a
 * server error lands on the right row after rows are removed.
 */
export function repeater(o) {
  const rows = [];
  const list = h('div', { class: 'rows' });
  const focusFirst = (row) => {
    const el = row && row.el.querySelector('input, select, textarea');
    if (el) el.focus();
    return !!el;
  };
  function renumber() {
    rows.forEach((r, i) => {
      r.setIndex(i);
      r.removeBtn.disabled = rows.length <= (o.min || 0);
    });
    if (o.onChange) o.onChange();
  }
  function addRow(data) {
    const removeBtn = button(o.removeLabel || 'Remove', () => {
      const i = rows.indexOf(row);
      rows.splice(i, 1);
      row.el.remove();
      renumber();
      if (!focusFirst(rows[i] || rows[i - 1])) addBtn.focus();
    });
    const row = o.build(data || {}, removeBtn);
    row.removeBtn = removeBtn;
    rows.push(row);
    list.append(row.el);
    renumber();
    return row;
  }
  const addBtn = button(o.addLabel, () => focusFirst(addRow()), { testid: o.addTestid });
  const fs = h('fieldset', { class: 'repeater' }, h('legend', null, o.legend), o.hint ? h('p', { class: 'hint' }, o.hint) : null, list, h('div', { class: 'actions' }, addBtn));
  fs.rows = rows;
  fs.addRow = addRow;
  fs.reset = (items) => {
    rows.splice(0).forEach((r) => r.el.remove());
    (items || []).forEach(addRow);
    renumber();
  };
  (o.initial || []).forEach(addRow);
  return fs;
}

/* Renames a field built by field(): its API name and test id. */
export function rename(wrap, name, testid) {
  wrap.input.dataset.field = name;
  if (testid) {
    wrap.input.setAttribute('data-testid', testid);
    wrap.input.errorEl.setAttribute('data-testid', `${testid}-error`);
  }
}

/* The first page of a list as a table, with 'Load more' for the rest; .t is the table. */
export async function pagedTable(fetchPage, opts) {
  const first = await fetchPage(null);
  const t = table({ ...opts, rows: first.items });
  return Object.assign(h('div', null, t, t.addRows && pager(fetchPage, t.addRows, first.next_cursor)), { t });
}

/* A button-like <summary> that opens a small form to confirm an action. */
export function confirmForm(label, testid, formOpts) {
  return h('details', { class: 'inline-details' }, h('summary', { class: 'btn btn-secondary', testid }, label), form(formOpts));
}
