/*
 * app.js: the console's entry module. Registers the routes, draws the
 * header (user, role, sign out, navigation for the role) and dispatches.
 *
 * data-testid values (stable hooks for the end-to-end tests). {a,b} means
 * each of a and b; <id> an API id, <key> a clause key, <kind> a submission
 * or rate kind, <event> an event type, <n> a 0-based editor row.
 * Forms: <form>-error is a form's problem detail (role=alert) and
 * <field>-error a field's message from errors[]; load-more pages a list.
 * Everywhere: main nav brand who user-name who-role signout nav-signin
 *   skip-link status-message (aria-live) page-title (each page's h1)
 *   page-error not-found, nav-{programs,submissions,money,licenses,review,
 *   webhooks,finance,users,audit,settings}
 * #/signin: signin-{form,email,password,submit}
 * #/join/<code>: join-code-{form,submit} join-code join-program
 *   join-program-name join-terms terms-clause-<key> join-rates join-form
 *   join-{email,display-name,password,accept,submit,signin-link,signed-in-as}
 * #/t/<id>: transparency tp-{enrolled,within-sla,median-hours,p90-hours,
 *   deemed,paid,payable,cash,median-earnings,hourly-pay,license-fees}
 *   tp-submissions tp-licenses (tables)
 * Artist #/programs: my-programs my-program-<program id> open-programs
 *   open-program-<id> recent-submissions
 * Artist #/programs/<id>: program-name program-status enrollment-status
 *   accept-terms-{form,check} accept-terms (button) terms
 *   terms-clause-<key> rates rate-<kind> submit-{form,kind,title,
 *   description,hours,submit} media-add media-{uri,sha256,bytes,mime,
 *   remove}-<n> gen-{model,model-version,prompt,seed,resolution,duration}
 *   enrollment-withdraw withdraw-{form,reason,confirm}
 * #/submissions: filter-{program,status,kind} submissions submission-<id>
 * #/submissions/<id>: submission-{title,status,time-left,shareable,
 *   description,media,withdraw,withdraw-confirm} media-video media-link
 *   provenance decisions decision-<n> cited-clause-<key> appeal appeal-section
 *   appeal-{form,statement,submit} exhibitions exhibit-{section,form,venue,
 *   starts,submit}; artist: work-licenses license-request-<id>
 *   license-{accept,decline,decline-reason,decline-confirm} licenses
 *   license-<id> license-{revoke,revoke-reason,revoke-confirm}; staff:
 *   staff-licenses license-{form,use,scope,term-days,fee,note,submit}
 *   license-requests license-request-<id> license-withdraw
 * #/money: balances balance-<program id> statement-{form,program,from,to,
 *   submit} statement
 * #/licenses: filter-request-status license-requests license-request-<id>
 *   (with license-accept, license-decline...) license-requests-closed
 *   licenses license-<id> (with license-revoke...)
 * Staff #/programs: programs program-<id> program-create-form
 *   program-{slug,name,description,currency,capacity,sla,sharing,
 *   notice-days,transparency} program-kind-<kind> program-create-submit
 * Staff #/programs/<id>: program-name program-status program-open
 *   program-close program-not-ready link-review link-transparency
 *   program-edit-form (create's field testids) program-edit-submit
 *   terms-section terms-edit terms-form terms-edit-{key,kind,title,body,
 *   remove}-<n> terms-add-clause terms-confidential-until terms-publish
 *   rates-section rates-edit rates-form rate-input-<kind> rates-save
 *   invite-{form,email,max-uses,expires,submit,created,link,copy,code}
 *   invitations invitation-<id> invitation-revoke enrollments
 *   enrollment-<id> program-submissions submission-<id>
 * #/review: review-programs review-program-<id>
 * #/review/<id>: queue-figures queue-counts sla-clock queue-overdue
 *   queue-open-claims queue-refresh claim-kind-<kind> claim-next
 *   queue-empty no-item shortcuts claimed-{item,title,status,terms}
 *   lease-clock due-clock submission-media media-video provenance appeal
 *   previous-decisions decide-{approve,reject,changes} release
 *   decision-form clause-<key> (checkbox) decision-{reason,submit,cancel}
 * #/webhooks: webhook-program webhooks webhook-<id> webhook-deliveries
 *   webhook-{form,url,submit,created,secret,copy} webhook-event-<event>
 *   deliveries-section delivery-status-filter deliveries delivery-<id>
 *   delivery-retry
 * #/finance: finance-program finance-{cash,payable} accounts account-<id>
 *   funding-{form,amount,memo,submit} adjust-{form,memo,add,sum,submit}
 *   adjust-{account,amount,remove}-<n> tx-{from,to,filter} transactions
 *   transaction-<id> transaction-reverse reverse-{form,memo,confirm}
 *   batch-draft-{form,submit} batch-min batches batch-<id> batch-open
 *   batch-detail batch-{approve,export} batch-items item-<id>
 *   item-paid-{open,form,ref} item-paid item-failed-{open,form,reason}
 *   item-failed export-{from,to,format,link}
 * #/admin/users: users-filter-role users user-<id>
 *   user-{form,email,display-name,role,password,submit}
 * #/admin/audit: audit-{form,entity-type,entity-id,actor-id,from,to,
 *   submit} audit audit-<id> audit-details
 * #/settings: prefs-form pref-<event> prefs-save
 */
import { onUnauthorized } from './api.js';
import { h, announce, clear } from './dom.js';
import { route, startRouter, navigate, parseHash } from './router.js';
import { user, role, loadMe, signOut, setUser, onUserChange } from './session.js';
import * as signin from './signin.js';
import * as join from './join.js';
import * as transparency from './transparency.js';
import * as artist from './artist.js';
import * as submissions from './submissions.js';
import * as licenses from './licenses.js';
import * as programs from './programs.js';
import * as review from './review.js';
import * as webhooks from './webhooks.js';
import * as finance from './finance.js';
import * as admin from './admin.js';

const STAFF = ['staff', 'admin'];

const HOME = { artist: '/programs', staff: '/programs', finance: '/finance', admin: '/admin/users' };

const NAV = {
  artist: [['programs', 'Programs'], ['submissions', 'Submissions'], ['money', 'Money'], ['licenses', 'Licenses'], ['settings', 'Settings']],
  staff: [['programs', 'Programs'], ['review', 'Review'], ['submissions', 'Submissions'], ['webhooks', 'Webhooks'], ['settings', 'Settings']],
  finance: [['finance', 'Finance'], ['programs', 'Programs'], ['audit', 'Audit'], ['settings', 'Settings']],
  admin: [['users', 'Users'], ['audit', 'Audit'], ['programs', 'Programs'], ['review', 'Review'], ['submissions', 'Submissions'], ['webhooks', 'Webhooks'], ['finance', 'Finance'], ['settings', 'Settings']],
};

const NAV_PATH = { users: '/admin/users', audit: '/admin/audit' };

/* Routes. `roles`: who may open it; `public`: no sign-in needed. */
route('/signin', { public: true, page: signin.page });
route('/join', { public: true, page: join.page });
route('/join/:code', { public: true, page: join.page });
route('/t/:id', { public: true, page: transparency.page });
route('/', { page: home });
route('/programs', { page: (root, ctx) => (role() === 'artist' ? artist.programsPage(root, ctx) : programs.listPage(root, ctx)) });
route('/programs/:id', { page: (root, ctx) => (role() === 'artist' ? artist.programPage(root, ctx) : programs.programPage(root, ctx)) });
route('/submissions', { roles: ['artist', ...STAFF], page: submissions.listPage });
route('/submissions/:id', { roles: ['artist', ...STAFF], page: submissions.detailPage });
route('/money', { roles: ['artist'], page: artist.moneyPage });
route('/licenses', { roles: ['artist'], page: licenses.page });
route('/review', { roles: STAFF, page: review.pickPage });
route('/review/:id', { roles: STAFF, page: review.page });
route('/webhooks', { roles: STAFF, page: webhooks.page });
route('/finance', { roles: ['finance', 'admin'], page: finance.page });
route('/admin/users', { roles: ['admin'], page: admin.usersPage });
route('/admin/audit', { roles: ['admin', 'finance'], page: admin.auditPage });
route('/settings', { page: admin.settingsPage });

function home() {
  navigate(HOME[role()] || '/signin', null, { replace: true });
}

function drawHeader() {
  const u = user();
  const nav = clear(document.getElementById('nav'));
  const who = clear(document.getElementById('who'));
  const { path } = parseHash();
  if (u) {
    const items = NAV[u.role] || [];
    nav.append(h('ul', null, items.map(([name, text]) => {
      const target = NAV_PATH[name] || `/${name}`;
      const current = path === target || path.startsWith(`${target}/`);
      return h('li', null, h('a', { href: `#${target}`, testid: `nav-${name}`, 'aria-current': current ? 'page' : null }, text));
    })));
    who.append(
      h('span', { class: 'who-name', testid: 'user-name' }, u.display_name),
      h('span', { class: 'badge badge-role', testid: 'who-role' }, u.role),
      h('button', { type: 'button', class: 'btn btn-link', testid: 'signout', onclick: doSignOut }, 'Sign out'),
    );
  } else {
    nav.append(h('ul', null, h('li', null, h('a', { href: '#/signin', testid: 'nav-signin', 'aria-current': path === '/signin' ? 'page' : null }, 'Sign in'))));
  }
}

async function doSignOut() {
  try {
    await signOut();
  } catch {
    /* the cookie may already be gone */
  }
  navigate('/signin');
  announce('You are signed out.');
}

let firstRender = true;

async function resolve(m, ctx) {
  const main = document.getElementById('main');
  drawHeader();
  if (!m) {
    main.replaceChildren(h('div', { class: 'page' }, h('h1', { tabindex: '-1', testid: 'page-title' }, 'Page not found'),
      h('p', { testid: 'not-found' }, 'There is nothing at this address. ', h('a', { href: '#/' }, 'Go to the start page.'))));
    document.title = 'Not found · fairbeta';
    return;
  }
  const r = m.route;
  if (!r.public && !user()) {
    const next = location.hash.replace(/^#/, '');
    navigate('/signin', next && next !== '/' ? { next } : null, { replace: true });
    return;
  }
  const root = h('div', { class: 'page' });
  main.replaceChildren(root);
  if (r.roles && !r.roles.includes(role())) {
    root.append(h('h1', { tabindex: '-1', testid: 'page-title' }, 'Not available'),
      h('p', { testid: 'page-error' }, `This page is not available to the ${role()} role.`));
    document.title = 'Not available · fairbeta';
    return;
  }
  root.append(h('p', { class: 'loading', role: 'status' }, 'Loading…'));
  const focusAfter = !firstRender;
  firstRender = false;
  try {
    await r.page(root, { ...ctx, params: m.params });
  } catch (err) {
    if (!ctx.alive()) return;
    if (err.status === 401) return; /* handled by onUnauthorized */
    const title = err.status === 404 ? 'Not found' : err.status === 403 ? 'Not allowed' : 'Something went wrong';
    root.replaceChildren(h('h1', { tabindex: '-1', testid: 'page-title' }, title), h('p', { class: 'error-text', testid: 'page-error' }, err.message));
    document.title = `${title} · fairbeta`;
  }
  if (focusAfter && ctx.alive() && !root.contains(document.activeElement)) {
    const h1 = root.querySelector('h1');
    if (h1) h1.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }
}

onUnauthorized(() => {
  if (!user()) return;
  const next = location.hash.replace(/^#/, '');
  setUser(null);
  navigate('/signin', next ? { next } : null, { replace: true });
  announce('Your session has ended. Please sign in again.', 'error');
});

onUserChange(drawHeader);

document.getElementById('skip-link').addEventListener('click', (e) => {
  e.preventDefault();
  const main = document.getElementById('main');
  const h1 = main.querySelector('h1');
  (h1 || main).focus();
});

async function boot() {
  try {
    await loadMe();
  } catch (err) {
    document.getElementById('main').replaceChildren(h('div', { class: 'page' }, h('h1', null, 'fairbeta is not reachable'), h('p', { class: 'error-text', testid: 'page-error' }, err.message)));
    return;
  }
  await startRouter(resolve);
}

boot();
