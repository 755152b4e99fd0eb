// The submission page with JavaScript on: the browser seals the report and every file in a
// worker before anything leaves the device (intake protocol v1). Without JavaScript the same
// form posts to /submit and the server seals it; this script only takes over when it runs.
//
// Fail closed: once this script runs, the form is never posted as it is. Either the worker
// seals and sends it, or the source sees why nothing was sent.

import { t } from './messages.mjs';
import { describePhoto, familyOf } from './photo-metadata.mjs';
import { SealClient } from './seal-client.mjs';

const MAX_FILES = 20; // intake.envelope.MAX_FILES

const form = document.getElementById('submission-form');
if (form) enhance(form);

function enhance(form) {
  let state = 'idle'; // idle → sending → sent
  // First of all, before anything else here can fail.
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (state === 'sending') {
      setStatus(t('busy'));
      return;
    }
    if (state === 'sent') return;
    state = 'sending';
    send(form).then(
      () => {
        state = 'sent';
      },
      (error) => {
        state = 'idle';
        showFailure(form, error);
      },
    );
  });
  window.addEventListener('beforeunload', (event) => {
    if (state === 'sending') event.preventDefault(); // leaving would stop the upload
  });
  document.documentElement.classList.add('js');

  const client = new SealClient(form.dataset);
  form.sealClient = client;
  client.ready.then(
    () => {
      document.getElementById('js-notice').hidden = false;
    },
    () => {
      const failed = document.getElementById('js-failed');
      failed.textContent = t('sodium_failed');
      failed.hidden = false;
    },
  );

  const input = form.elements.namedItem('files');
  input.addEventListener('change', () => showFiles(form, input));
  if (input.files && input.files.length) showFiles(form, input);
}

// -- before sending: what each file hides --------------------------------------------------

let shown = 0; // generation of the file list, so a slow exifr read cannot fill a newer list

function element(tag, attributes = {}, text = null) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== null) node.textContent = text;
  return node;
}

function formatSize(bytes, lang) {
  const [unit, scale] = bytes >= 1024 ** 3 ? ['gigabyte', 1024 ** 3]
    : bytes >= 1024 ** 2 ? ['megabyte', 1024 ** 2]
      : bytes >= 1024 ? ['kilobyte', 1024] : ['byte', 1];
  try {
    return new Intl.NumberFormat(lang, { style: 'unit', unit, maximumFractionDigits: 1 }).format(bytes / scale);
  } catch (error) {
    return `${(bytes / scale).toFixed(1)} ${unit}`;
  }
}

function showFiles(form, input) {
  const generation = ++shown;
  const details = document.getElementById('file-details');
  const files = Array.from(input.files || []);
  details.replaceChildren();
  details.hidden = files.length === 0;
  const lang = form.dataset.lang;
  const limit = Number(form.dataset.maxFileBytes) || Infinity;
  const cleanMax = Number(form.dataset.cleanMaxBytes) || Infinity;
  files.forEach((file, index) => {
    const card = element('div', { class: 'file-card' });
    card.append(element('h3', {}, `${file.name} (${formatSize(file.size, lang)})`));
    if (file.size > limit) {
      card.append(element('p', { class: 'error' }, t('file_too_large', { name: file.name, limit: form.dataset.sizeLimit })));
    }
    const family = familyOf(file);
    const tooLarge = file.size > cleanMax;
    if (family && !tooLarge) {
      // What the server does to this kind of file, as the policy list on the page says it.
      for (const node of family.children) card.append(node.cloneNode(true));
    } else if (family) {
      // Too large to clean: whatever its kind, it is stored as sent.
      const notCleaned = document.querySelector('.policy-details .not-cleaned');
      card.append(family.querySelector('.family-label').cloneNode(true));
      if (notCleaned) card.append(notCleaned.cloneNode(true));
      const why = document.getElementById('policy-too-large');
      card.append(element('p', { class: 'warning' }, why ? why.textContent : ''));
    }
    details.append(card);
    if (!family || tooLarge || family.dataset.keepsPlace !== 'yes') return;
    const findings = element('div', { class: 'findings' });
    card.querySelector('.family-label')?.after(findings);
    const keep = element('div', { class: 'field checkbox' });
    const box = element('input', { type: 'checkbox', id: `keep-photo-${index}`, 'data-keep-index': String(index) });
    keep.append(box, element('label', { for: box.id }, t('photo_keep')));
    card.append(keep);
    describePhoto(file, form.dataset.vendor, lang).then((found) => {
      if (generation !== shown) return;
      if (found === null) {
        findings.append(element('p', {}, t('photo_unreadable')));
      } else if (found.length === 0) {
        findings.append(element('p', {}, t('photo_none')));
      } else {
        findings.append(element('p', {}, t('photo_found')));
        const list = element('ul', { class: 'found' });
        for (const [key, params] of found) list.append(element('li', {}, t(key, params)));
        findings.append(list);
      }
    });
  });
  if (files.length > MAX_FILES) {
    details.prepend(element('p', { class: 'error' }, t('too_many_files', { count: MAX_FILES })));
  }
}

function keepFor(index) {
  const box = document.getElementById(`keep-photo-${index}`);
  const keep = Boolean(box && box.checked);
  return { location: keep, time: keep };
}

// -- sending ---------------------------------------------------------------------------------

function setStatus(text) {
  document.getElementById('status').textContent = text;
}

function setFormDisabled(form, disabled) {
  for (const fieldset of form.querySelectorAll('fieldset')) fieldset.disabled = disabled;
  document.getElementById('send-button').disabled = disabled;
}

function progressItem(file, index) {
  const item = element('li');
  for (const phase of ['encrypt', 'upload']) {
    const id = `${phase}-${index}`;
    item.append(
      element('label', { for: id }, t(`progress_${phase}`, { name: file.name })),
      element('progress', { id, max: '1', value: '0' }),
    );
  }
  return item;
}

function showProgress(files) {
  const panel = document.getElementById('progress');
  const list = document.getElementById('progress-list');
  list.replaceChildren(...files.map(progressItem));
  document.getElementById('send-error').hidden = true;
  panel.hidden = false;
}

function onEvent(files) {
  return (message) => {
    if (message.type === 'progress') {
      const bar = document.getElementById(`${message.phase}-${message.index}`);
      if (bar) {
        bar.max = message.total;
        bar.value = message.done;
      }
    } else if (message.type === 'status') {
      const name = message.index !== undefined ? files[message.index].name : '';
      setStatus(t(`status_${message.stage}`, { name }));
    } else if (message.type === 'retry') {
      setStatus(t('network_retry', { seconds: message.seconds }));
    }
  };
}

async function send(form) {
  const elements = form.elements;
  const files = Array.from(elements.namedItem('files').files || []);
  if (files.length > MAX_FILES) {
    throw Object.assign(new Error('too_many_files'), { code: 'too_many_files', params: { count: MAX_FILES } });
  }
  const job = {
    desk: elements.namedItem('desk').value,
    lang: form.dataset.lang,
    codename: elements.namedItem('codename').value.trim() || null,
    answers: {
      report: elements.namedItem('report').value,
      place: elements.namedItem('place').value.trim(),
      when: elements.namedItem('when').value.trim(),
    },
    files: files.map((file, index) => ({ file, keep: keepFor(index) })),
  };
  showProgress(files);
  setFormDisabled(form, true);
  setStatus(t('preparing'));
  try {
    const result = await form.sealClient.run('submit', job, onEvent(files));
    setStatus(t('status_done'));
    showReceipt(form, result);
  } finally {
    setFormDisabled(form, false);
  }
}

function failureText(form, error) {
  const code = error.code || 'internal';
  const params = { ...(error.params || {}) };
  if (code === 'server_refused' && error.serverCode === 'codename_unknown') return t('codename_unknown');
  if (code === 'file_too_large') params.limit = form.dataset.sizeLimit;
  return t(code, params);
}

function showFailure(form, error) {
  const box = document.getElementById('send-error');
  box.textContent = failureText(form, error);
  box.hidden = false;
  document.getElementById('progress').hidden = false;
  setStatus('');
  box.focus();
}

function showReceipt(form, result) {
  const section = document.getElementById('js-receipt');
  const content = document.getElementById('receipt-template').content.cloneNode(true);
  const slot = (name) => content.querySelector(`[data-slot="${name}"]`);
  slot('receipt').textContent = result.receipt;
  slot('signed_receipt').textContent = result.signedReceipt;
  slot('fingerprint').textContent = result.fingerprint.match(/.{1,4}/g).join(' ');
  if (result.codename) {
    slot('codename').textContent = result.codename;
  } else {
    content.querySelector('[data-slot-section="codename"]').remove();
  }
  if (!result.signatureOk) {
    slot('receipt').after(element('span', { class: 'error' }, ` ${t('signature_bad')}`));
  }
  section.replaceChildren(content);
  // The report and the files stay in this tab no longer than needed.
  form.reset();
  document.getElementById('file-details').replaceChildren();
  document.getElementById('page-form').hidden = true;
  section.hidden = false;
  form.sealClient.terminate();
  window.scrollTo(0, 0);
  section.focus();
}
