/*
 * api.js: the only place that talks to the server. Same-origin fetch with
 * the session cookie, the X-Fairbeta-Console header (the server refuses a
 * cookie-authenticated change without it), JSON bodies, RFC 9457 problems
 * turned into ApiError, and Idempotency-Key on request.
 */

export class ApiError extends Error {
  constructor(status, problem, headers) {
    super((problem && (problem.detail || problem.title)) || `The server answered ${status}.`);
    this.status = status;
    this.problem = problem || {};
    this.headers = headers;
  }

  /* The last part of the problem type: 'validation', 'program-not-ready', ... */
  get kind() {
    return String(this.problem.type || '').split('/').pop();
  }

  get fieldErrors() {
    return Array.isArray(this.problem.errors) ? this.problem.errors : [];
  }
}

export class NetworkError extends Error {
  constructor() {
    super('Could not reach the server. Check the connection and try again.');
    this.status = 0;
  }
}

let unauthorizedHandler = null;

/* Called with the error when a request answers 401 (the session ended). */
export function onUnauthorized(fn) {
  unauthorizedHandler = fn;
}

/* A random UUID, also outside secure contexts (plain http on a LAN). */
export function newKey() {
  if (window.crypto && typeof crypto.randomUUID === 'function' && window.isSecureContext) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/* path`/v1/programs/${id}/terms` with every interpolation URL-encoded. */
export function path(strings, ...values) {
  return strings.reduce((acc, s, i) => acc + s + (i < values.length ? encodeURIComponent(String(values[i])) : ''), '');
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v == null || v === '') continue;
    q.append(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

/*
 * request('POST', '/v1/...', {body, params, key, ifMatch, quiet401})
 * resolves to {status, data, etag, headers} or rejects with ApiError /
 * NetworkError. `body` may be a ready JSON string (for int64 seeds).
 */
export async function request(method, url, opts = {}) {
  const headers = {
    Accept: 'application/json, application/problem+json',
    'X-Fairbeta-Console': '1',
  };
  let body;
  if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  }
  if (opts.key) headers['Idempotency-Key'] = opts.key;
  if (opts.ifMatch) headers['If-Match'] = opts.ifMatch;
  let res;
  try {
    res = await fetch(url + query(opts.params), { method, headers, body, credentials: 'same-origin', cache: 'no-store', keepalive: !!opts.keepalive });
  } catch {
    throw new NetworkError();
  }
  let data = null;
  if (res.status !== 204 && res.status !== 304) {
    const text = await res.text();
    const ct = res.headers.get('Content-Type') || '';
    if (text && ct.includes('json')) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    } else if (text) {
      data = text;
    }
  }
  if (!res.ok) {
    const problem = data && typeof data === 'object' ? data : { title: res.statusText, detail: `The server answered ${res.status} ${res.statusText}.` };
    const err = new ApiError(res.status, problem, res.headers);
    if (res.status === 401 && !opts.quiet401 && unauthorizedHandler) unauthorizedHandler(err);
    throw err;
  }
  return { status: res.status, data, etag: res.headers.get('ETag'), headers: res.headers };
}

export async function get(url, params, opts = {}) {
  return (await request('GET', url, { ...opts, params })).data;
}

export async function post(url, body, opts = {}) {
  return (await request('POST', url, { ...opts, body })).data;
}

export async function put(url, body, opts = {}) {
  return (await request('PUT', url, { ...opts, body })).data;
}

/* Every page of a list, up to `max` items (for pickers). */
export async function getAll(url, params = {}, max = 1000) {
  const items = [];
  let cursor = null;
  do {
    const page = await get(url, { ...params, limit: 200, cursor });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}
