/*
 * session.js: who is signed in. The session itself is an HttpOnly cookie
 * the page never sees; GET /v1/me tells who it belongs to.
 */
import { ApiError, request } from './api.js';

let current = null;
const listeners = [];

export function user() {
  return current;
}

export function role() {
  return current ? current.role : null;
}

export function is(...roles) {
  return current != null && roles.includes(current.role);
}

export function setUser(u) {
  current = u;
  for (const fn of listeners) fn(current);
}

export function onUserChange(fn) {
  listeners.push(fn);
}

/* Asks the server who is signed in; null when nobody is. */
export async function loadMe() {
  try {
    const { data } = await request('GET', '/v1/me', { quiet401: true });
    setUser(data);
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) setUser(null);
    else throw e;
  }
  return current;
}

export async function signIn(email, password) {
  const { data } = await request('POST', '/v1/sessions', {
    body: { email, password, cookie: true },
    quiet401: true,
  });
  setUser(data.user);
  return data.user;
}

export async function signOut() {
  try {
    await request('DELETE', '/v1/sessions/current', { quiet401: true });
  } finally {
    setUser(null);
  }
}
