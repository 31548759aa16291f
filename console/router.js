/*
 * router.js: hash routing (#/programs/<id>?tab=x), so every address can be
 * shared and reloaded. Pages register cleanups (timers, key handlers) that
 * run when the route changes.
 */

const routes = [];
let cleanups = [];
let seq = 0;
let resolver = null;

/* route('/programs/:id', {page, roles, title}) */
export function route(pattern, opts) {
  routes.push({ pattern, parts: pattern.split('/').filter(Boolean), ...opts });
}

export function parseHash(hash = location.hash) {
  const raw = hash.replace(/^#/, '') || '/';
  const qi = raw.indexOf('?');
  const path = qi >= 0 ? raw.slice(0, qi) : raw;
  const query = Object.fromEntries(new URLSearchParams(qi >= 0 ? raw.slice(qi + 1) : ''));
  return { path: path.startsWith('/') ? path : `/${path}`, query };
}

export function match(path) {
  const parts = path.split('/').filter(Boolean);
  for (const r of routes) {
    if (r.parts.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < parts.length; i += 1) {
      const p = r.parts[i];
      if (p.startsWith(':')) {
        try {
          params[p.slice(1)] = decodeURIComponent(parts[i]);
        } catch {
          ok = false;
        }
      } else if (p !== parts[i]) ok = false;
      if (!ok) break;
    }
    if (ok) return { route: r, params };
  }
  return null;
}

/* '#/finance?program=…' from a path and query object. */
export function href(path, params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) if (v != null && v !== '') q.append(k, String(v));
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ''}`;
}

export function navigate(path, params, { replace = false } = {}) {
  const target = href(path, params);
  if (replace) {
    history.replaceState(null, '', target);
    dispatch();
  } else if (location.hash === target) {
    dispatch();
  } else {
    location.hash = target;
  }
}

/* Changes the query of the current address without rendering again. */
export function setQuery(params) {
  const { path } = parseHash();
  history.replaceState(null, '', href(path, params));
}

export async function dispatch() {
  for (const fn of cleanups) {
    try {
      fn();
    } catch {
      /* a failing cleanup must not stop navigation */
    }
  }
  cleanups = [];
  seq += 1;
  const mine = seq;
  const { path, query } = parseHash();
  const ctx = {
    path,
    query,
    alive: () => mine === seq,
    onCleanup: (fn) => {
      if (mine === seq) cleanups.push(fn);
      else fn();
    },
  };
  if (resolver) await resolver(match(path), ctx);
}

export function startRouter(resolve) {
  resolver = resolve;
  window.addEventListener('hashchange', dispatch);
  return dispatch();
}
