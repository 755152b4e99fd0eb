// The replies page with JavaScript on: the browser derives the source key from the codename
// (Argon2id, in the worker) and opens each reply itself; the codename only ever travels
// inside an envelope sealed to the intake key. Without JavaScript the form posts to /replies
// and the server opens the replies in memory.

import { canonicalize, CODENAME_WORDS, wordCount } from './canonical.mjs';
import { t } from './messages.mjs';
import { SealClient } from './seal-client.mjs';

const form = document.getElementById('replies-form');
if (form) enhance(form);

function enhance(form) {
  let busy = false;
  // First of all: with JavaScript on, the codename is never posted as it is (fail closed).
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (busy) return;
    busy = true;
    openReplies(form).finally(() => {
      busy = false;
    });
  });
  document.documentElement.classList.add('js');
  const client = new SealClient(form.dataset);
  form.sealClient = client;
  client.ready.catch(() => showProblem(t('sodium_failed')));
}

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

function setStatus(text) {
  document.getElementById('replies-status').textContent = text;
}

function showProblem(text) {
  const box = document.getElementById('js-failed');
  box.textContent = text;
  box.hidden = false;
}

/** Tie a message to the codename field, as the server-rendered page does. */
function setFieldError(input, text) {
  const id = `${input.id}-error`;
  let error = document.getElementById(id);
  const described = (input.getAttribute('aria-describedby') || '').split(' ').filter((x) => x && x !== id);
  if (!text) {
    if (error) error.remove();
    input.removeAttribute('aria-invalid');
    input.setAttribute('aria-describedby', described.join(' '));
    return;
  }
  if (!error) {
    error = element('p', { class: 'error', id });
    input.before(error);
  }
  error.textContent = text;
  input.setAttribute('aria-invalid', 'true');
  input.setAttribute('aria-describedby', [...described, id].join(' '));
}

function formatHour(at, lang) {
  const date = new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(at) ? at : `${at.replace(' UTC', '')}Z`);
  if (Number.isNaN(date.getTime())) return at;
  try {
    return new Intl.DateTimeFormat(lang, { dateStyle: 'long', timeStyle: 'short' }).format(date);
  } catch (error) {
    return at;
  }
}

async function openReplies(form) {
  const input = form.elements.namedItem('codename');
  const typed = input.value.trim();
  const canonical = canonicalize(typed);
  if (wordCount(canonical) < CODENAME_WORDS) {
    setFieldError(input, t('codename_short'));
    input.focus();
    return;
  }
  setFieldError(input, null);
  document.getElementById('js-failed').hidden = true;
  const button = document.getElementById('replies-button');
  button.disabled = true;
  setStatus(t('replies_deriving'));
  try {
    const result = await form.sealClient.run('replies', { codename: typed, canonical }, (message) => {
      if (message.type === 'retry') setStatus(t('network_retry', { seconds: message.seconds }));
    });
    input.value = ''; // the codename does not stay on screen
    showReplies(form, result.replies);
    setStatus('');
  } catch (error) {
    setStatus('');
    if (error.serverCode === 'codename_unknown' || error.serverCode === 'envelope_invalid') {
      setFieldError(input, t('codename_unknown'));
      input.focus();
    } else {
      showProblem(t(error.code || 'internal', error.params || {}));
    }
  } finally {
    button.disabled = false;
  }
}

function showReplies(form, replies) {
  const section = document.getElementById('reply-list');
  const items = document.getElementById('reply-items');
  const lang = form.dataset.lang;
  items.replaceChildren();
  if (replies.length === 0) items.append(element('p', {}, t('replies_none')));
  for (const reply of replies) {
    const article = element('article', { class: 'reply' });
    article.append(element('p', { class: 'reply-at' }, formatHour(reply.at, lang)));
    if (reply.text === null) {
      article.append(element('p', { class: 'reply-text error' }, t('reply_unreadable')));
    } else {
      article.append(element('p', { class: 'reply-text' }, reply.text));
    }
    items.append(article);
  }
  section.hidden = false;
  section.focus();
}
