// Filon's hashing worker: the SHA-256 of a large file's plaintext, computed on a second thread
// while the sealing worker (seal-worker.js) encrypts the next chunks. The sealing worker starts
// it, hands it each plaintext chunk in order once that chunk is encrypted (transferred, not
// copied), and puts the digest in the envelope (DESIGN.md §4: "sha256": hex of the plaintext).
//
// It holds no key and sends nothing anywhere: it only answers the worker that started it.
// Fail closed: anything unexpected (a chunk out of order, a library that computes wrongly, an
// exception) is reported as an error, and the sealing worker then fails the whole job.
//
// Protocol (messages from the sealing worker, answers to it):
//   {op: 'init', vendor}                  → {type: 'ready'} or {type: 'failed'}
//   {op: 'begin', id}                       a new file; forgets any unfinished one
//   {op: 'update', id, index, buffer}     → {type: 'hashed', id, count}; the buffer is zeroed
//   {op: 'final', id, count}              → {type: 'digest', id, count, sha256}
//   any failure                           → {type: 'error', id, message}
'use strict';

let sodium = null;
let job = null; // the file being hashed: {id, state, count}

self.onmessage = (event) => {
  const message = event.data || {};
  if (message.op === 'init') {
    init(message);
    return;
  }
  try {
    if (!sodium) throw new Error('libsodium is not ready');
    if (message.op === 'begin') begin(message);
    else if (message.op === 'update') update(message);
    else if (message.op === 'final') final(message);
    else throw new Error('unknown operation');
  } catch (error) {
    if (message.buffer instanceof ArrayBuffer) new Uint8Array(message.buffer).fill(0);
    abandon();
    self.postMessage({ type: 'error', id: message.id, message: String(error && error.message) });
  }
};

function init(message) {
  try {
    importScripts(`${message.vendor}libsodium-sumo.js`, `${message.vendor}libsodium-wrappers-sumo.js`);
  } catch (error) {
    self.postMessage({ type: 'failed' });
    return;
  }
  const loaded = self.sodium;
  if (!loaded || !loaded.ready) {
    self.postMessage({ type: 'failed' });
    return;
  }
  loaded.ready.then(
    () => {
      if (!selfTest(loaded)) {
        self.postMessage({ type: 'failed' });
        return;
      }
      sodium = loaded;
      self.postMessage({ type: 'ready' });
    },
    () => self.postMessage({ type: 'failed' }),
  );
}

/** Known answers, one-shot and streamed, before this build hashes anything a source sends. */
function selfTest(lib) {
  try {
    const names = ['crypto_hash_sha256_init', 'crypto_hash_sha256_update', 'crypto_hash_sha256_final'];
    if (names.some((name) => typeof lib[name] !== 'function')) return false;
    const expected = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'; // "abc"
    if (lib.to_hex(lib.crypto_hash_sha256(lib.from_string('abc'))) !== expected) return false;
    const state = lib.crypto_hash_sha256_init();
    lib.crypto_hash_sha256_update(state, lib.from_string('a'));
    lib.crypto_hash_sha256_update(state, new Uint8Array(0));
    lib.crypto_hash_sha256_update(state, lib.from_string('bc'));
    return lib.to_hex(lib.crypto_hash_sha256_final(state)) === expected;
  } catch (error) {
    return false;
  }
}

function begin(message) {
  abandon();
  job = { id: message.id, state: sodium.crypto_hash_sha256_init(), count: 0 };
}

/** Drop the file being hashed, if any, freeing its state. */
function abandon() {
  const file = job;
  job = null;
  if (file) {
    try {
      sodium.crypto_hash_sha256_final(file.state);
    } catch (error) {
      // Nothing more to free.
    }
  }
}

function current(message) {
  if (!job || message.id !== job.id) throw new Error('no such file');
  return job;
}

function update(message) {
  const file = current(message);
  if (message.index !== file.count) throw new Error('chunk out of order');
  if (!(message.buffer instanceof ArrayBuffer)) throw new Error('not a chunk');
  const plain = new Uint8Array(message.buffer);
  try {
    sodium.crypto_hash_sha256_update(file.state, plain);
  } finally {
    plain.fill(0);
  }
  file.count += 1;
  self.postMessage({ type: 'hashed', id: file.id, count: file.count });
}

function final(message) {
  const file = current(message);
  if (message.count !== file.count) throw new Error('chunks missing');
  job = null;
  const sha256 = sodium.to_hex(sodium.crypto_hash_sha256_final(file.state));
  self.postMessage({ type: 'digest', id: file.id, count: file.count, sha256 });
}
