/*
 * signin.js: #/signin. Signs in to a cookie session (HttpOnly; the page
 * never sees the token) and goes on to ?next= or the role's start page.
 */
import { h, pageHead, announce } from './dom.js';
import { field, form } from './forms.js';
import { navigate } from './router.js';
import { user, signIn } from './session.js';

/* Only console paths are followed after sign-in. */
function nextPath(next) {
  return typeof next === 'string' && /^\/[A-Za-z0-9/_\-.~%?=&]*$/.test(next) && !next.startsWith('/signin') ? next : '/';
}

function go(next) {
  const target = nextPath(next);
  const qi = target.indexOf('?');
  if (qi < 0) navigate(target, null, { replace: true });
  else navigate(target.slice(0, qi), Object.fromEntries(new URLSearchParams(target.slice(qi + 1))), { replace: true });
}

export async function page(root, ctx) {
  if (user()) {
    go(ctx.query.next);
    return;
  }
  pageHead(root, 'Sign in');
  const email = field({ name: 'email', label: 'Email', type: 'email', testid: 'signin-email', required: true, attrs: { autocomplete: 'username', maxlength: 254 } });
  const password = field({ name: 'password', label: 'Password', type: 'password', testid: 'signin-password', required: true, attrs: { autocomplete: 'current-password', maxlength: 1024 } });
  const f = form({
    testid: 'signin-form',
    label: 'Sign in',
    submitLabel: 'Sign in',
    submitTestid: 'signin-submit',
    children: [email, password],
    onSubmit: async () => {
      const u = await signIn(email.input.value.trim(), password.input.value);
      announce(`Signed in as ${u.display_name}.`);
      go(ctx.query.next);
    },
  });
  root.append(h('div', { class: 'card narrow' }, f,
    h('p', { class: 'hint' }, 'Invited to a program? Open the invitation link you were sent to join it.')));
  email.input.focus();
}
