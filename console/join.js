/*
 * join.js: #/join/<invitation_code>, the invitation link. Shows the
 * program's latest terms in full (POST /v1/invitations/preview: the code
 * travels in a body, not a URL), then enrolls once the artist ticks that
 * they accept that terms version. New artists create their account here;
 * afterwards the console signs them in and opens the program.
 */
import { ApiError, post, request } from './api.js';
import { h, pageHead, section, dl, announce, button } from './dom.js';
import { field, form } from './forms.js';
import { navigate } from './router.js';
import { user, signIn, signOut } from './session.js';
import { termsView, ratesView } from './views.js';
import { label } from './format.js';

function codeForm(root, message) {
  pageHead(root, 'Join a program');
  const code = field({ name: 'invitation_code', label: 'Invitation code', testid: 'join-code', required: true, hint: 'It starts with fbi_. It is in the invitation link you were sent.', attrs: { autocomplete: 'off', spellcheck: 'false', maxlength: 200 } });
  const f = form({
    testid: 'join-code-form',
    label: 'Invitation code',
    submitLabel: 'Continue',
    submitTestid: 'join-code-submit',
    children: [code],
    onSubmit: async () => navigate(`/join/${encodeURIComponent(code.input.value.trim())}`),
  });
  root.append(h('div', { class: 'card narrow' }, f));
  if (message) {
    code.input.setAttribute('aria-invalid', 'true');
    code.input.errorEl.hidden = false;
    code.input.errorEl.textContent = message;
  }
}

export async function page(root, ctx) {
  const codeValue = ctx.params.code;
  if (!codeValue) {
    codeForm(root);
    return;
  }
  let preview;
  try {
    preview = await post('/v1/invitations/preview', { invitation_code: codeValue }, { quiet401: true });
  } catch (err) {
    if (err instanceof ApiError && err.status === 422) {
      const fe = err.fieldErrors.find((e) => e.field === 'invitation_code');
      codeForm(root, fe ? fe.message : err.message);
      announce('This invitation cannot be used.', 'error');
      return;
    }
    throw err;
  }
  if (!ctx.alive()) return;
  const { program, terms, rates } = preview;
  pageHead(root, `Join ${program.name}`);
  root.append(section('About the program', { testid: 'join-program' },
    h('p', { class: 'lead', testid: 'join-program-name' }, program.name),
    program.description ? h('p', { class: 'prose' }, program.description) : null,
    dl([
      ['Review deadline', `Every submission gets a decision within ${program.review_sla_hours} hours, or it counts as approved.`],
      ['Sharing', program.sharing === 'open' ? 'You may share your outputs at once.' : 'You may share an output once it is approved or deemed approved.'],
      ['Capacity', `${program.capacity} artists`],
      ['Status', label(program.status)],
    ])));

  const termsSection = section(terms ? `Terms, version ${terms.version}` : 'Terms', { testid: 'join-terms' },
    h('p', null, 'Read the terms in full before you accept them. Reviewers can only reject or ask for changes by citing these clauses.'),
    termsView(terms));
  root.append(termsSection);
  root.append(section('What the program pays', { testid: 'join-rates' }, ratesView(rates, { caption: 'Rates' })));

  if (!terms) {
    root.append(section('Join', null, h('p', null, 'This program has not published terms yet, so it cannot be joined.')));
    return;
  }

  const u = user();
  const accept = field({
    type: 'checkbox',
    name: 'accept_terms_version',
    label: `I have read and accept terms version ${terms.version}`,
    testid: 'join-accept',
    required: true,
  });
  if (u && u.role !== 'artist') {
    root.append(section('Join', null,
      h('p', { testid: 'join-signed-in-as' }, `You are signed in as ${u.display_name} (${u.role}). Only artists join programs; sign out to join with an artist account.`),
      button('Sign out', async () => {
        await signOut();
        navigate(`/join/${encodeURIComponent(codeValue)}`);
      }, { testid: 'signout-to-join' })));
    return;
  }
  const children = [];
  let email;
  let password;
  let name;
  if (u) {
    children.push(h('p', { testid: 'join-signed-in-as' }, `You are signed in as ${u.display_name} (${u.email}).`));
  } else {
    const next = `/join/${encodeURIComponent(codeValue)}`;
    children.push(h('p', null, 'Create your artist account. Already have one? ',
      h('a', { href: `#/signin?next=${encodeURIComponent(next)}`, testid: 'join-signin-link' }, 'Sign in first'), '.'));
    email = field({ name: 'email', label: 'Email', type: 'email', testid: 'join-email', required: true, attrs: { autocomplete: 'email', maxlength: 254 } });
    name = field({ name: 'display_name', label: 'Your name, as the program sees it', testid: 'join-display-name', required: true, attrs: { autocomplete: 'name', maxlength: 100 } });
    password = field({ name: 'password', label: 'Password', type: 'password', testid: 'join-password', required: true, hint: 'At least 12 characters.', attrs: { autocomplete: 'new-password', minlength: 12, maxlength: 256 } });
    children.push(email, name, password);
  }
  children.push(accept);
  const f = form({
    testid: 'join-form',
    label: 'Join the program',
    submitLabel: 'Accept the terms and join',
    submitTestid: 'join-submit',
    children,
    onSubmit: async (key) => {
      const body = { invitation_code: codeValue, accept_terms_version: terms.version };
      if (!u) {
        body.email = email.input.value.trim();
        body.password = password.input.value;
        body.display_name = name.input.value.trim();
      }
      let enrollment;
      try {
        ({ data: enrollment } = await request('POST', '/v1/enrollments', { body, key, quiet401: true }));
      } catch (err) {
        if (err instanceof ApiError && err.kind === 'terms-outdated') {
          announce(`The terms changed while you were reading. Read version ${err.problem.latest_terms_version} below.`, 'error');
          navigate(`/join/${encodeURIComponent(codeValue)}`);
          return;
        }
        throw err;
      }
      if (!u) await signIn(body.email, body.password);
      announce(`Welcome to ${program.name}.`);
      navigate(`/programs/${encodeURIComponent(enrollment.program_id)}`);
    },
  });
  root.append(section('Join', null, f));
}
