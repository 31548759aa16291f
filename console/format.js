/*
 * format.js: money in integer minor units, dates and durations, labels.
 * Money never goes through floating point: minor units are turned into a
 * decimal string by digit manipulation, and Intl formats that string.
 */
import { h } from './dom.js';

const exponents = new Map();

/* Digits after the decimal point in a currency (2 for EUR, 0 for JPY). */
export function exponent(currency) {
  if (!exponents.has(currency)) {
    let e = 2;
    try {
      e = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits;
    } catch {
      /* unknown code: keep 2 */
    }
    exponents.set(currency, e);
  }
  return exponents.get(currency);
}

/* 12345, 'EUR' -> '123.45' (exact). */
export function minorToDecimal(minor, currency) {
  const e = exponent(currency);
  const neg = Number(minor) < 0;
  let digits = String(Math.abs(Number(minor)));
  if (e === 0) return (neg ? '-' : '') + digits;
  digits = digits.padStart(e + 1, '0');
  return `${neg ? '-' : ''}${digits.slice(0, -e)}.${digits.slice(-e)}`;
}

/* 12345, 'EUR' -> '€123.45' */
export function money(minor, currency) {
  if (minor == null) return '—';
  const dec = minorToDecimal(minor, currency);
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency }).format(dec);
  } catch {
    return `${dec} ${currency}`;
  }
}

/*
 * '123.45', 'EUR' -> 12345. Throws an Error with a message for the user
 * when the text is not an amount with at most the currency's decimals.
 */
export function parseMajor(text, currency, { allowNegative = false } = {}) {
  const e = exponent(currency);
  const s = String(text).trim().replace(/[\s,_]/g, '');
  const re = allowNegative ? /^(-?)(\d+)(?:\.(\d*))?$/ : /^()(\d+)(?:\.(\d*))?$/;
  const m = re.exec(s);
  if (!m) throw new Error(allowNegative ? 'Enter an amount such as 12.50 or -12.50.' : 'Enter an amount such as 12.50.');
  const frac = m[3] || '';
  if (frac.length > e) throw new Error(e === 0 ? `${currency} has no decimals.` : `At most ${e} decimals for ${currency}.`);
  const digits = (m[2] + frac.padEnd(e, '0')).replace(/^0+(?=\d)/, '');
  if (digits.length > 16 || Number(digits) > 1e15) throw new Error('That amount is too large.');
  const n = Number(digits);
  return m[1] === '-' ? -n : n;
}

const dateFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/* A <time> element for an RFC 3339 timestamp. */
export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return h('time', { datetime: iso, title: iso }, dateFmt.format(d));
}

export function dateText(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateFmt.format(d);
}

/* 93784000 ms -> '1 day 2 hours' (two largest units). */
export function duration(ms) {
  const abs = Math.abs(ms);
  if (abs < 60000) return 'less than a minute';
  const units = [
    ['day', 86400000],
    ['hour', 3600000],
    ['minute', 60000],
  ];
  const parts = [];
  let rest = abs;
  for (const [name, size] of units) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0 || parts.length) {
      if (n > 0) parts.push(`${n} ${name}${n === 1 ? '' : 's'}`);
      if (parts.length === 2) break;
      if (parts.length === 1 && n === 0) break;
    }
  }
  return parts.join(' ');
}

const OPEN = new Set(['pending', 'in_review', 'appealed']);

export function isOpen(status) {
  return OPEN.has(status);
}

/* The deemed-approval clock of a submission, as text. */
export function timeLeft(sub, now = Date.now()) {
  if (!isOpen(sub.status)) return '—';
  const left = new Date(sub.review_due_at).getTime() - now;
  if (left <= 0) return 'Deadline passed: deemed approved shortly';
  return `${duration(left)} left`;
}

/* 'due in 3 hours' / 'overdue by 2 hours' */
export function dueText(iso, now = Date.now()) {
  if (!iso) return '—';
  const left = new Date(iso).getTime() - now;
  return left >= 0 ? `in ${duration(left)}` : `${duration(left)} ago`;
}

/* The last 8 hex digits of a UUID (v7 ids share their leading, time-based digits). */
export function shortId(id) {
  return id ? String(id).slice(-8) : '—';
}

export const KIND_LABELS = {
  work: 'Work',
  bug_report: 'Bug report',
  feedback: 'Feedback',
  session: 'Session',
};

export const RATE_LABELS = {
  work: 'Work',
  bug_report: 'Bug report',
  feedback: 'Feedback',
  session_hour: 'Session (per hour)',
  exhibition: 'Exhibition',
  promotion_license: 'Promotion license (minimum fee)',
  training_license: 'Training license (minimum fee)',
};

export const RATE_KINDS = Object.keys(RATE_LABELS);
export const SUBMISSION_KINDS = Object.keys(KIND_LABELS);
export const SUBMISSION_STATUSES = ['pending', 'in_review', 'approved', 'deemed_approved', 'rejected', 'changes_requested', 'appealed', 'withdrawn'];
export const CLAUSE_KINDS = ['confidentiality', 'responsible_use', 'sharing', 'compensation', 'other'];
export const EVENT_TYPES = [
  'enrollment.created', 'terms.published', 'submission.created', 'submission.decided',
  'submission.deemed_approved', 'submission.appealed', 'review.sla_warning', 'accrual.posted',
  'payout.approved', 'payout.paid', 'payout.failed', 'license.requested', 'license.granted',
  'license.declined', 'license.withdrawn', 'license.expired', 'license.revoked', 'license.ended',
];

export function label(value) {
  if (value == null) return '—';
  const s = String(value).replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/* A value of <input type="datetime-local"> (local time) -> RFC 3339 UTC. */
export function localToIso(value) {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

/* A Date -> the value an <input type="datetime-local"> takes. */
export function toLocalInput(d) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function bytes(n) {
  if (n == null) return '—';
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let v = Number(n);
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i += 1;
  }
  return i === 0 ? `${v} bytes` : `${v.toFixed(1)} ${units[i]}`;
}
