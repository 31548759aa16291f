/*
 * dom.js: tiny helpers that build elements. Text is only ever inserted as
 * text (textContent / text nodes) and attributes through setAttribute, so
 * nothing a user wrote can become markup.
 */

/* h('p', {class: 'x', testid: 'y', onclick: fn}, 'text', child, [more]) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  if (props) {
    for (const [k, v] of Object.entries(props)) {
      if (v == null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = String(v);
      else if (k === 'testid') el.setAttribute('data-testid', v);
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'value' || k === 'checked' || k === 'selected' || k === 'disabled' || k === 'hidden' || k === 'indeterminate') el[k] = v;
      else if (k === 'href' || k === 'src') {
        const safe = safeUrl(v);
        if (safe) el.setAttribute(k, safe);
      } else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  add(el, children);
  return el;
}

/* Appends children: nodes as they are, anything else as text. */
export function add(el, ...children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/* Only same-origin paths, fragments and http(s) addresses are linked. */
export function safeUrl(u) {
  const s = String(u);
  if (s.startsWith('#') || (s.startsWith('/') && !s.startsWith('//'))) return s;
  try {
    const url = new URL(s);
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : null;
  } catch {
    return null;
  }
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

let idSeq = 0;
export function uid(prefix = 'f') {
  idSeq += 1;
  return `${prefix}-${idSeq}`;
}

/* A section with a heading; level 2 by default. */
export function section(title, props, ...children) {
  const id = uid('sec');
  const level = (props && props.level) || 2;
  const heading = h(`h${level}`, { id }, title);
  const s = h('section', { class: 'card', 'aria-labelledby': id, testid: props && props.testid }, heading, ...children);
  s.heading = heading;
  return s;
}

/* Definition list from [term, value] pairs; pairs with a null value are left out. */
export function dl(pairs, cls = 'facts') {
  const list = h('dl', { class: cls });
  for (const [term, value, testid] of pairs) {
    if (value == null || value === '') continue;
    list.append(h('div', { testid }, h('dt', null, term), h('dd', null, value)));
  }
  return list;
}

/*
 * A table in its own scrolling container. columns: [[label, cell(row) ->
 * node|string, 'num'?]]; the first column heads its row. The container
 * becomes focusable only while it scrolls, so keyboard users can scroll it
 * without extra tab stops.
 */
export function table({ caption, columns, rows, testid, rowTestid, empty }) {
  if (!rows.length && empty) return h('p', { class: 'empty', testid: testid && `${testid}-empty` }, empty);
  const cols = columns.filter(Boolean);
  const tbody = h('tbody');
  const t = h('table', { testid }, caption ? h('caption', null, caption) : null,
    h('thead', null, h('tr', null, cols.map(([text, , num]) => h('th', { scope: 'col', class: num }, text)))), tbody);
  const makeRow = (r) => h('tr', { testid: rowTestid && rowTestid(r) },
    cols.map(([, cell, num], i) => h(i ? 'td' : 'th', { scope: i ? null : 'row', class: num }, cell(r))));
  const addRows = (more) => tbody.append(...more.map(makeRow));
  addRows(rows);
  const wrap = h('div', { class: 'table-wrap' }, t);
  watchScroll(wrap, caption ? `${caption} (table)` : 'Table');
  return Object.assign(wrap, { addRows, makeRow, table: t, prepend: (r) => tbody.prepend(makeRow(r)) });
}

/* '#/submissions/<id>': a console address with each part encoded. */
export function to(...parts) {
  return `#/${parts.map((x) => encodeURIComponent(String(x))).join('/')}`;
}

function watchScroll(wrap, name) {
  const check = () => {
    if (wrap.scrollWidth > wrap.clientWidth + 1) {
      wrap.tabIndex = 0;
      wrap.setAttribute('role', 'region');
      wrap.setAttribute('aria-label', name);
    } else {
      wrap.removeAttribute('tabindex');
      wrap.removeAttribute('role');
      wrap.removeAttribute('aria-label');
    }
  };
  new ResizeObserver(check).observe(wrap);
}

/* A button; kind: primary | secondary | danger | link. */
export function button(label, onclick, props = {}) {
  const { kind = 'secondary', ...rest } = props;
  return h('button', { type: 'button', class: `btn btn-${kind}`, onclick, ...rest }, label);
}

export function link(label, href, props = {}) {
  return h('a', { href, ...props }, label);
}

export function badge(value, label) {
  return h('span', { class: `badge badge-${String(value).replace(/[^a-z_]/g, '')}` }, label || String(value).replace(/_/g, ' '));
}

export function note(text, props = {}) {
  return h('p', { class: 'note', ...props }, text);
}

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status' }, text);
}

/* Multi-line user text, shown as text with its line breaks kept. */
export function prose(text, props = {}) {
  return h('p', { class: 'prose', ...props }, text == null ? '' : String(text));
}

/* Status messages: a polite live region at the top of the page. */
let statusTimer = null;
export function announce(message, kind = 'info') {
  const region = document.getElementById('status');
  if (!region) return;
  clearTimeout(statusTimer);
  region.textContent = '';
  region.className = `status status-${kind}`;
  /* A fresh text node after a tick makes screen readers read it again. */
  setTimeout(() => {
    region.textContent = message;
  }, 30);
  if (kind !== 'error') {
    statusTimer = setTimeout(() => {
      region.textContent = '';
      region.className = 'status';
    }, 12000);
  }
}

/* Copies text: the Clipboard API where allowed, else the selected input. */
export async function copyText(text, input) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    /* fall through */
  }
  if (input) {
    input.focus();
    input.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
  return false;
}

/* Starts a page: sets the document title and puts the h1 in the root. */
export function pageHead(root, title, ...extras) {
  document.title = `${title} · fairbeta`;
  const h1 = h('h1', { tabindex: '-1', testid: 'page-title' }, title);
  root.replaceChildren(h('div', { class: 'page-head' }, h1, ...extras));
  return h1;
}
