// Filon's sealing worker: everything a source sends is encrypted here, before it leaves the
// browser (intake protocol v1, docs/protocol.md). It runs as a dedicated Web Worker so a
// multi-gigabyte video never freezes the page, and it keeps every key to itself: the page
// only ever sees progress and the final receipt.
//
// Fail closed: if libsodium does not load, the server's key does not verify, or any step
// throws, the job ends with an error and the envelope is never sent.
//
// A classic worker (importScripts), not a module worker: libsodium.js's browser build is a
// UMD script, and Tor Browser and older phones run classic workers everywhere.
//
// A large file is hashed on a second thread (hash-worker.js, started from here) while this one
// encrypts: with two cores that nearly doubles the sealing speed (bench/browser_seal.py). Small
// files are hashed here, which spares the second worker's download of libsodium.js.
'use strict';

const CHUNK_SIZE = 1024 * 1024; // filon-stream/1: plaintext chunks of exactly 1 MiB
const MAX_IN_FLIGHT = 3; // chunk PUTs on the wire at once: enough to fill a slow link
const MAX_ATTEMPTS = 12; // per request; about four minutes of backoff in all
const BACKOFF_CAP_MS = 30000;
const CHUNK_TIMEOUT_MS = 5 * 60 * 1000; // 1 MiB over a poor Tor circuit can take minutes
const REQUEST_TIMEOUT_MS = 2 * 60 * 1000;
const KEY_MAX_AGE_MS = 60 * 60 * 1000; // challenges live two hours: refresh well before
// Bounds on the Argon2id cost a server may ask of us: a hostile value must not hang the phone.
const MAX_KDF_MEMLIMIT = 1024 * 1024 * 1024;
const MAX_KDF_OPSLIMIT = 16;
const MAX_POW_DIFFICULTY = 32;
// Files at least this large are hashed in the hash worker. Below it, the time saved is less
// than the cost of fetching libsodium.js a second time (about 1.2 MB) over a slow connection.
const PARALLEL_HASH_MIN_BYTES = 16 * CHUNK_SIZE;
// Plaintext chunks handed to the hash worker and not yet hashed: this bounds the memory used,
// and the encryption waits for the hash to catch up.
const MAX_HASH_QUEUE = 4;
const HASH_WORKER_SCRIPT = 'hash-worker.js'; // next to this script

let sodium = null;
let config = null;
let hashWorker = null; // the hash worker, started when a large file is first sealed

/** A failure the page can explain to a person: a message key and its parameters. */
class JobError extends Error {
  constructor(code, params = {}) {
    super(code);
    this.code = code;
    this.params = params;
  }
}

/** A server answer other than 2xx, with the protocol's error code when it sent one. */
class HttpError extends JobError {
  constructor(status, code, message) {
    super('server_refused', { message: message || `HTTP ${status}` });
    this.status = status;
    this.serverCode = code;
  }
}

// -- messages from the page --------------------------------------------------------------

self.onmessage = (event) => {
  const message = event.data || {};
  if (message.op === 'init') {
    init(message);
    return;
  }
  const jobs = { submit: submitJob, replies: repliesJob, measure: measureJob };
  const job = jobs[message.op];
  if (!job) return;
  const emit = (type, data) => self.postMessage({ type, id: message.id, ...data });
  Promise.resolve()
    .then(() => {
      if (!sodium) throw new JobError('sodium_failed');
      return job(message, emit);
    })
    .then((result) => emit('done', { result }))
    .catch((error) => emit('error', describeError(error)));
};

function describeError(error) {
  if (error instanceof JobError) {
    return { code: error.code, params: error.params, serverCode: error.serverCode || null };
  }
  // Anything unexpected is still a failure, never a reason to send less protected data.
  return { code: 'internal', params: { message: String(error && error.message) } };
}

function init(message) {
  config = {
    api: message.api,
    vendor: message.vendor,
    signingFingerprint: message.signingFingerprint || null,
  };
  try {
    importScripts(`${message.vendor}libsodium-sumo.js`, `${message.vendor}libsodium-wrappers-sumo.js`);
  } catch (error) {
    self.postMessage({ type: 'failed', code: 'sodium_failed' });
    return;
  }
  const loaded = self.sodium;
  if (!loaded || !loaded.ready) {
    self.postMessage({ type: 'failed', code: 'sodium_failed' });
    return;
  }
  loaded.ready.then(
    () => {
      const needed = [
        'crypto_secretstream_xchacha20poly1305_init_push',
        'crypto_secretstream_xchacha20poly1305_push',
        'crypto_hash_sha256_init',
        'crypto_hash_sha256_update',
        'crypto_hash_sha256_final',
        'crypto_hash_sha256',
        'crypto_box_seal',
        'crypto_box_seal_open',
        'crypto_box_keypair',
        'crypto_box_seed_keypair',
        'crypto_pwhash',
        'crypto_sign_verify_detached',
        'crypto_generichash',
      ];
      if (needed.some((name) => typeof loaded[name] !== 'function') || !selfTest(loaded)) {
        self.postMessage({ type: 'failed', code: 'sodium_failed' });
        return;
      }
      sodium = loaded;
      self.postMessage({ type: 'ready' });
    },
    () => self.postMessage({ type: 'failed', code: 'sodium_failed' }),
  );
}

/**
 * Known answers and round trips, before anything is sealed with this build: a library that
 * loads but computes wrongly (a damaged or altered file) must fail closed, not seal badly.
 */
function selfTest(lib) {
  try {
    const abc = lib.to_hex(lib.crypto_hash_sha256(lib.from_string('abc')));
    if (abc !== 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad') return false;
    const key = lib.crypto_secretstream_xchacha20poly1305_keygen();
    const { state, header } = lib.crypto_secretstream_xchacha20poly1305_init_push(key);
    const message = lib.from_string('filon self-test');
    const cipher = lib.crypto_secretstream_xchacha20poly1305_push(
      state, message, null, lib.crypto_secretstream_xchacha20poly1305_TAG_FINAL,
    );
    const pull = lib.crypto_secretstream_xchacha20poly1305_init_pull(header, key);
    const opened = lib.crypto_secretstream_xchacha20poly1305_pull(pull, cipher, null);
    if (!opened || lib.to_string(opened.message) !== 'filon self-test') return false;
    if (opened.tag !== lib.crypto_secretstream_xchacha20poly1305_TAG_FINAL) return false;
    const pair = lib.crypto_box_keypair();
    const sealed = lib.crypto_box_seal(message, pair.publicKey);
    return lib.to_string(lib.crypto_box_seal_open(sealed, pair.publicKey, pair.privateKey)) === 'filon self-test';
  } catch (error) {
    return false;
  }
}

// -- encoding helpers ------------------------------------------------------------------------

function b64(bytes) {
  return sodium.to_base64(bytes, sodium.base64_variants.ORIGINAL);
}

function unb64(text, length) {
  if (typeof text !== 'string') throw new JobError('key_invalid');
  let bytes;
  try {
    bytes = sodium.from_base64(text, sodium.base64_variants.ORIGINAL);
  } catch (error) {
    throw new JobError('key_invalid');
  }
  if (length !== undefined && bytes.length !== length) throw new JobError('key_invalid');
  return bytes;
}

function fingerprint(publicKey) {
  return sodium.to_hex(sodium.crypto_generichash(32, publicKey));
}

function codePoints(text, max) {
  return Array.from(text).slice(0, max).join('');
}

// -- HTTP with retries -----------------------------------------------------------------------

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function backoff(attempt) {
  const base = Math.min(BACKOFF_CAP_MS, 500 * 2 ** attempt);
  return Math.round(base * (0.8 + Math.random() * 0.4)); // jitter: clients must not march in step
}

// Answers after which the same request may be sent again. 500 is among them only for requests
// that are harmless to repeat; a submission is repeated only when the server said it stored
// nothing (503 "try again later", 429 "too many requests").
const TRANSIENT = new Set([408, 429, 500, 502, 503, 504]);
const NOT_STORED = new Set([429, 503]);

function timeoutSignal(ms) {
  return typeof AbortSignal !== 'undefined' && AbortSignal.timeout ? AbortSignal.timeout(ms) : undefined;
}

async function readError(response) {
  let code = null;
  let message = null;
  try {
    const body = await response.json();
    code = typeof body.error === 'string' ? body.error : null;
    message = typeof body.message === 'string' ? body.message : null;
  } catch (error) {
    // Not the protocol's JSON error (a proxy's page): the status says enough.
  }
  return new HttpError(response.status, code, message);
}

/**
 * Fetch with retries and exponential backoff. `retryNetwork`: whether a request that got no
 * answer may be sent again (true only where sending twice is harmless).
 */
async function request(
  url,
  init,
  { retryNetwork = true, retryStatuses = TRANSIENT, timeout = REQUEST_TIMEOUT_MS, emit } = {},
) {
  for (let attempt = 0; ; attempt++) {
    let response;
    try {
      // The API carries no cookies (DESIGN.md §4): nothing ties an upload to a browser session.
      response = await fetch(url, {
        ...init,
        credentials: 'omit',
        cache: 'no-store',
        redirect: 'error',
        referrerPolicy: 'no-referrer',
        signal: timeoutSignal(timeout),
      });
    } catch (error) {
      if (!retryNetwork || attempt + 1 >= MAX_ATTEMPTS) throw new JobError('network_failed');
      await wait(attempt, emit);
      continue;
    }
    if (response.ok) return response;
    if (retryStatuses.has(response.status) && attempt + 1 < MAX_ATTEMPTS) {
      await wait(attempt, emit);
      continue;
    }
    throw await readError(response);
  }
}

async function wait(attempt, emit) {
  const ms = backoff(attempt);
  if (emit) emit('retry', { seconds: Math.ceil(ms / 1000) });
  await sleep(ms);
}

async function json(url, body, options) {
  const response = await request(
    url,
    { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) },
    options,
  );
  return response.json();
}

// -- the intake key --------------------------------------------------------------------------

/** Step 1: fetch the intake key and check it before anything is sealed to it. */
async function fetchKey(emit) {
  const response = await request(`${config.api}/key`, { method: 'GET' }, { emit });
  let body;
  try {
    body = await response.json();
  } catch (error) {
    throw new JobError('key_invalid');
  }
  const publicKey = unb64(body.public_key, sodium.crypto_box_PUBLICKEYBYTES);
  const signingKey = unb64(body.signing_key, sodium.crypto_sign_PUBLICKEYBYTES);
  const signature = unb64(body.signature, sodium.crypto_sign_BYTES);
  // key_id must be this key's fingerprint, the org key must have signed it, and the org key
  // must be the one this page announced (and shows to the source) when it was loaded.
  if (fingerprint(publicKey) !== body.key_id) throw new JobError('key_invalid');
  if (!sodium.crypto_sign_verify_detached(signature, publicKey, signingKey)) {
    throw new JobError('key_invalid');
  }
  if (config.signingFingerprint && fingerprint(signingKey) !== config.signingFingerprint) {
    throw new JobError('key_invalid');
  }
  if (body.chunk_size !== CHUNK_SIZE) throw new JobError('key_invalid');
  const pow = body.pow || {};
  if (!Number.isInteger(pow.difficulty) || pow.difficulty < 0 || pow.difficulty > MAX_POW_DIFFICULTY) {
    throw new JobError('key_invalid');
  }
  unb64(pow.challenge);
  return {
    keyId: body.key_id,
    publicKey,
    signingKey,
    pow: { challenge: pow.challenge, difficulty: pow.difficulty },
    maxFileBytes: Number.isSafeInteger(body.max_file_bytes) ? body.max_file_bytes : Infinity,
    sourceKdf: body.source_kdf,
    fetchedAt: Date.now(),
  };
}

// -- files -----------------------------------------------------------------------------------

/** How many chunks a file of `size` plaintext bytes has: the last is shorter, maybe empty. */
function chunkCount(size) {
  return Math.floor(size / CHUNK_SIZE) + 1;
}

/**
 * A file's plaintext in chunks of the sizes asked for, each in a fresh buffer of exactly that
 * size. Read as a stream (the browser reads ahead while we encrypt, and it is several times
 * faster than one slice per chunk); by slices where a browser lacks Blob.stream().
 */
class ChunkReader {
  constructor(file, name) {
    this.file = file;
    this.name = name;
    this.offset = 0; // bytes handed out so far
    this.piece = null; // what the stream gave and we have not used yet
    this.pieceAt = 0;
    this.reader = null;
    if (typeof file.stream === 'function') {
      try {
        this.reader = file.stream().getReader();
      } catch (error) {
        throw new JobError('file_unreadable', { name });
      }
    }
  }

  /** The next `length` bytes of the file. */
  async read(length) {
    const chunk = new Uint8Array(length);
    try {
      if (this.reader) await this.fill(chunk);
      else await this.readSlice(chunk);
    } catch (error) {
      chunk.fill(0);
      throw new JobError('file_unreadable', { name: this.name });
    }
    this.offset += length;
    return chunk;
  }

  async fill(chunk) {
    let at = 0;
    while (at < chunk.length) {
      if (!this.piece) {
        const { done, value } = await this.reader.read();
        if (done || !(value instanceof Uint8Array)) throw new Error('the file ended early');
        this.piece = value;
        this.pieceAt = 0;
      }
      const count = Math.min(chunk.length - at, this.piece.length - this.pieceAt);
      chunk.set(this.piece.subarray(this.pieceAt, this.pieceAt + count), at);
      at += count;
      this.pieceAt += count;
      if (this.pieceAt === this.piece.length) this.dropPiece();
    }
  }

  async readSlice(chunk) {
    const start = this.offset;
    const buffer = await this.file.slice(start, start + chunk.length).arrayBuffer();
    const bytes = new Uint8Array(buffer);
    try {
      if (bytes.length !== chunk.length) throw new Error('the file changed');
      chunk.set(bytes);
    } finally {
      bytes.fill(0);
    }
  }

  /** After the last chunk: the file must end exactly there (it did not change meanwhile). */
  async end() {
    if (!this.reader) return;
    try {
      for (;;) {
        if (this.piece) throw new Error('the file is longer than it was');
        const { done, value } = await this.reader.read();
        if (done) return;
        if (!(value instanceof Uint8Array)) throw new Error('not bytes');
        this.piece = value;
        this.pieceAt = 0;
        if (value.length === 0) this.dropPiece();
      }
    } catch (error) {
      throw new JobError('file_unreadable', { name: this.name });
    }
  }

  dropPiece() {
    if (this.piece) this.piece.fill(0);
    this.piece = null;
  }

  /** Stop reading (after a failure, or at the end) and wipe what is held. */
  close() {
    this.dropPiece();
    if (this.reader) this.reader.cancel().catch(() => {});
    this.reader = null;
  }
}

/** SHA-256 of the plaintext on this thread: for small files, or where workers cannot nest. */
class InlineHash {
  constructor(name) {
    this.name = name;
    this.state = sodium.crypto_hash_sha256_init();
  }

  /** Hash a chunk that has been encrypted; the chunk is zeroed. */
  async update(plain) {
    try {
      sodium.crypto_hash_sha256_update(this.state, plain);
    } catch (error) {
      throw new JobError('encrypt_failed', { name: this.name });
    } finally {
      plain.fill(0);
    }
  }

  async final() {
    try {
      return sodium.to_hex(sodium.crypto_hash_sha256_final(this.state));
    } catch (error) {
      throw new JobError('encrypt_failed', { name: this.name });
    }
  }
}

/**
 * The hash worker (hash-worker.js), as seen from here: started once, kept while it behaves.
 * Anything wrong with it (it does not load, its libsodium fails its self-test, it reports an
 * error, it crashes, it answers out of turn) marks it failed for good, and the file being
 * hashed fails with it: its digest, and so the envelope, is never produced.
 */
class HashWorker {
  constructor() {
    this.failed = false;
    this.session = null; // the ParallelHash in progress
    this.nextId = 1;
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    this.ready.catch(() => {}); // observed by whoever hashes a file
    try {
      this.worker = new Worker(new URL(HASH_WORKER_SCRIPT, self.location.href).href);
    } catch (error) {
      this.worker = null;
      this.fail();
      return;
    }
    this.worker.onmessage = (event) => this.receive(event.data || {});
    this.worker.onerror = (event) => {
      if (event && event.preventDefault) event.preventDefault();
      this.fail();
    };
    this.worker.onmessageerror = () => this.fail();
    this.worker.postMessage({ op: 'init', vendor: config.vendor });
  }

  receive(message) {
    if (this.failed) return;
    if (message.type === 'ready') {
      this.resolveReady();
      return;
    }
    const session = this.session;
    const known = Number.isInteger(message.id) && message.id > 0 && message.id < this.nextId;
    if ((message.type === 'hashed' || message.type === 'digest') && known) {
      // Answers about a file a failed job left unfinished still arrive: they mean nothing.
      if (!session || message.id !== session.id) return;
      if (message.type === 'hashed') {
        if (message.count !== session.hashed + 1 || message.count > session.sent) {
          this.fail();
          return;
        }
        session.hashed = message.count;
      } else {
        if (!session.ending || message.count !== session.sent || !/^[0-9a-f]{64}$/.test(message.sha256)) {
          this.fail();
          return;
        }
        session.digest = message.sha256;
      }
      session.wake();
      return;
    }
    this.fail(); // 'failed', 'error', or anything out of turn
  }

  fail() {
    if (this.failed) return;
    this.failed = true;
    if (this.worker) this.worker.terminate(); // with it, every plaintext chunk it held
    this.rejectReady(new JobError('sodium_failed'));
    if (this.session) this.session.wake();
  }

  post(message, transfer) {
    try {
      this.worker.postMessage(message, transfer || []);
    } catch (error) {
      this.fail();
    }
  }
}

/** Start the hash worker ahead of need (it loads while the key is fetched). */
function prepareHashWorker(files) {
  if (hashWorker && hashWorker.failed) hashWorker = null; // a new job may try a fresh one
  if (hashWorker || typeof Worker !== 'function') return;
  if (files.some((file) => file.size >= PARALLEL_HASH_MIN_BYTES)) hashWorker = new HashWorker();
}

/** SHA-256 of one file's plaintext in the hash worker. */
class ParallelHash {
  constructor(helper, name) {
    this.helper = helper;
    this.name = name;
    this.id = helper.nextId++;
    this.sent = 0;
    this.hashed = 0;
    this.ending = false;
    this.digest = null;
    this.waiter = null;
  }

  wake() {
    const waiter = this.waiter;
    this.waiter = null;
    if (waiter) waiter();
  }

  async until(condition) {
    for (;;) {
      if (this.helper.failed) throw new JobError('encrypt_failed', { name: this.name });
      if (condition()) return;
      await new Promise((resolve) => {
        this.waiter = resolve;
      });
    }
  }

  /** Hand an encrypted chunk's plaintext to the hash worker (moved there, not copied). */
  async update(plain) {
    try {
      await this.until(() => this.sent - this.hashed < MAX_HASH_QUEUE);
    } catch (error) {
      plain.fill(0);
      throw error;
    }
    let buffer = plain.buffer;
    if (plain.byteOffset !== 0 || plain.byteLength !== buffer.byteLength) {
      buffer = plain.slice().buffer;
      plain.fill(0);
    }
    this.helper.post({ op: 'update', id: this.id, index: this.sent, buffer }, [buffer]);
    this.sent += 1;
    if (this.helper.failed) {
      if (buffer.byteLength) new Uint8Array(buffer).fill(0); // not moved: wipe it here
      throw new JobError('encrypt_failed', { name: this.name });
    }
  }

  async final() {
    this.ending = true;
    this.helper.post({ op: 'final', id: this.id, count: this.sent });
    await this.until(() => this.digest !== null);
    if (this.hashed !== this.sent) throw new JobError('encrypt_failed', { name: this.name });
    this.helper.session = null;
    return this.digest;
  }
}

/**
 * How a file's plaintext will be hashed. Waits for the hash worker to be ready, so a hash
 * worker that cannot start fails the job before anything of this file is sent.
 */
async function startHash(file, name) {
  if (file.size < PARALLEL_HASH_MIN_BYTES || typeof Worker !== 'function') return new InlineHash(name);
  if (!hashWorker) hashWorker = new HashWorker();
  const helper = hashWorker;
  await helper.ready; // rejects with sodium_failed
  const hash = new ParallelHash(helper, name);
  helper.session = hash;
  helper.post({ op: 'begin', id: hash.id });
  if (helper.failed) throw new JobError('sodium_failed');
  return hash;
}

/**
 * Encrypt a file as filon-stream/1, chunk by chunk, hashing the plaintext on the way (`hash`,
 * from startHash). `sink(index, ciphertext)` takes each chunk (and may wait, to bound memory).
 */
async function encryptFile(file, name, state, hash, sink, onEncrypted) {
  const total = chunkCount(file.size);
  const TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
  const TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
  const ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES;
  const chunks = new ChunkReader(file, name);
  try {
    for (let index = 0; index < total; index++) {
      const last = index === total - 1;
      const plain = await chunks.read(last ? file.size - index * CHUNK_SIZE : CHUNK_SIZE);
      const length = plain.length;
      let cipher;
      try {
        cipher = sodium.crypto_secretstream_xchacha20poly1305_push(
          state, plain, null, last ? TAG_FINAL : TAG_MESSAGE,
        );
      } catch (error) {
        plain.fill(0);
        throw new JobError('encrypt_failed', { name });
      }
      await hash.update(plain); // the plaintext leaves this thread's hands (zeroed or moved)
      if (cipher.length !== length + ABYTES) throw new JobError('encrypt_failed', { name });
      if (onEncrypted) onEncrypted(index + 1, total);
      await sink(index, cipher);
    }
    await chunks.end();
    return await hash.final();
  } finally {
    chunks.close();
  }
}

/** Chunk PUTs, a few in flight; each retried until acknowledged (PUTs are idempotent). */
class ChunkSender {
  constructor(url, onAck, emit) {
    this.url = url;
    this.onAck = onAck;
    this.emit = emit;
    this.inFlight = new Set();
    this.failure = null;
    this.acked = 0;
  }

  async send(index, bytes) {
    while (this.inFlight.size >= MAX_IN_FLIGHT) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    const put = this.put(index, bytes).then(
      () => {
        this.inFlight.delete(put);
        this.acked += 1;
        this.onAck(this.acked);
      },
      (error) => {
        this.inFlight.delete(put);
        this.failure = this.failure || error;
      },
    );
    this.inFlight.add(put);
  }

  async put(index, bytes) {
    // A dropped connection fails every PUT on it; each is sent again after a backoff until
    // the server acknowledges it, so the upload resumes where it stopped.
    await request(
      `${this.url}/${index}`,
      { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream' }, body: bytes },
      { timeout: CHUNK_TIMEOUT_MS, emit: this.emit },
    );
  }

  async finish() {
    while (this.inFlight.size > 0) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }
}

/** Steps 2 and 3 for one file: returns its entry for the envelope. */
async function uploadFile(key, entry, index, emit) {
  const { file, keep } = entry;
  const name = codePoints(file.name || '', 255);
  if (file.size > key.maxFileBytes) throw new JobError('file_too_large', { name });
  const total = chunkCount(file.size);
  // Before anything of this file is sent: a hash worker that cannot start fails the job here.
  const hash = await startHash(file, name);
  const fileKey = sodium.crypto_secretstream_xchacha20poly1305_keygen();
  try {
    const { state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(fileKey);
    const ciphertextSize = file.size + total * sodium.crypto_secretstream_xchacha20poly1305_ABYTES;
    const created = await json(
      `${config.api}/uploads`,
      { key_id: key.keyId, header: b64(header), size: ciphertextSize },
      { emit },
    );
    if (typeof created.upload_id !== 'string' || !created.upload_id) throw new HttpError(502, null, null);
    const url = `${config.api}/uploads/${encodeURIComponent(created.upload_id)}`;
    const sender = new ChunkSender(
      url,
      (acked) => emit('progress', { index, phase: 'upload', done: acked, total }),
      emit,
    );
    const sha256 = await encryptFile(
      file,
      name,
      state,
      hash,
      (i, cipher) => sender.send(i, cipher),
      (done) => emit('progress', { index, phase: 'encrypt', done, total }),
    );
    await sender.finish();
    // Every chunk was acknowledged; the server's own count must agree before we name it.
    const status = await (await request(url, { method: 'GET' }, { emit })).json();
    if (status.received !== total) {
      throw new HttpError(409, 'upload_incomplete', 'the server does not hold every part of a file');
    }
    return {
      upload_id: created.upload_id,
      key: b64(fileKey),
      name,
      type: codePoints(file.type || '', 255),
      size: file.size,
      sha256,
      keep: { location: Boolean(keep && keep.location), time: Boolean(keep && keep.time) },
    };
  } finally {
    // The key now lives only in the entry (base64), which is dropped with the envelope.
    sodium.memzero(fileKey);
  }
}

// -- proof of work ---------------------------------------------------------------------------

function leadingZeroBits(digest) {
  let bits = 0;
  for (const byte of digest) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** A nonce such that SHA-256(challenge ‖ ASCII digits of nonce) has `difficulty` zero bits. */
function solvePow(challengeB64, difficulty) {
  const challenge = unb64(challengeB64);
  const buffer = new Uint8Array(challenge.length + 20);
  buffer.set(challenge);
  for (let nonce = 0; nonce <= Number.MAX_SAFE_INTEGER; nonce++) {
    const digits = String(nonce);
    for (let i = 0; i < digits.length; i++) buffer[challenge.length + i] = digits.charCodeAt(i);
    const digest = sodium.crypto_hash_sha256(buffer.subarray(0, challenge.length + digits.length));
    if (leadingZeroBits(digest) >= difficulty) return nonce;
  }
  throw new JobError('internal', { message: 'no proof of work found' });
}

// -- jobs ------------------------------------------------------------------------------------

/** Steps 1 to 4: upload every file, then seal and send the envelope; returns the receipt. */
async function submitJob(message, emit) {
  emit('status', { stage: 'key' });
  prepareHashWorker(message.files.map(({ file }) => file)); // loads while the key is fetched
  let key = await fetchKey(emit);
  // Refuse a file that is too large before sending any: nothing goes unless everything can.
  for (const { file } of message.files) {
    if (file.size > key.maxFileBytes) throw new JobError('file_too_large', { name: file.name });
  }
  const entries = [];
  for (let index = 0; index < message.files.length; index++) {
    emit('status', { stage: 'file', index });
    entries.push(await uploadFile(key, message.files[index], index, emit));
  }
  const replyKeys = sodium.crypto_box_keypair();
  try {
    const envelope = {
      v: 1,
      desk: message.desk,
      lang: message.lang,
      reply_to: b64(replyKeys.publicKey),
      codename: message.codename || null,
      answers: message.answers,
      files: entries,
    };
    let answer;
    for (let attempt = 0; ; attempt++) {
      if (Date.now() - key.fetchedAt > KEY_MAX_AGE_MS || attempt > 0) {
        const signingKey = key.signingKey;
        key = await fetchKey(emit);
        if (sodium.compare(signingKey, key.signingKey) !== 0) throw new JobError('key_invalid');
      }
      emit('status', { stage: 'pow' });
      const nonce = solvePow(key.pow.challenge, key.pow.difficulty);
      emit('status', { stage: 'sealing' });
      const sealed = sodium.crypto_box_seal(sodium.from_string(JSON.stringify(envelope)), key.publicKey);
      try {
        // Not sent again on a lost connection: the server may have stored it already, and a
        // second copy would fail on spent uploads. 503 and 429 mean nothing was stored.
        answer = await json(
          `${config.api}/submissions`,
          { key_id: key.keyId, envelope: b64(sealed), pow: { challenge: key.pow.challenge, nonce } },
          { retryNetwork: false, retryStatuses: NOT_STORED, emit },
        );
        break;
      } catch (error) {
        // An expired challenge (a long upload) is worth one fresh try; nothing else is.
        if (error instanceof HttpError && error.serverCode === 'proof_of_work_failed' && attempt === 0) continue;
        if (error instanceof JobError && error.code === 'network_failed') throw new JobError('network_unsure');
        throw error;
      }
    }
    return openReceipt(answer, replyKeys, key.signingKey);
  } finally {
    sodium.memzero(replyKeys.privateKey);
  }
}

function openReceipt(answer, replyKeys, signingKey) {
  let receipt;
  try {
    const opened = sodium.crypto_box_seal_open(unb64(answer.sealed), replyKeys.publicKey, replyKeys.privateKey);
    receipt = JSON.parse(sodium.to_string(opened));
  } catch (error) {
    throw new JobError('receipt_unreadable');
  }
  if (typeof receipt.receipt !== 'string') throw new JobError('receipt_unreadable');
  let signatureOk = false;
  try {
    signatureOk = sodium.crypto_sign_verify_detached(
      unb64(receipt.signed_receipt, sodium.crypto_sign_BYTES),
      sodium.from_string(receipt.receipt),
      signingKey,
    );
  } catch (error) {
    signatureOk = false;
  }
  return {
    receipt: receipt.receipt,
    codename: typeof receipt.codename === 'string' ? receipt.codename : null,
    signedReceipt: typeof receipt.signed_receipt === 'string' ? receipt.signed_receipt : '',
    signatureOk,
    fingerprint: fingerprint(signingKey),
  };
}

/** Step 5: derive the source key from the codename, fetch the replies and open them. */
async function repliesJob(message, emit) {
  emit('status', { stage: 'key' });
  const key = await fetchKey(emit);
  const kdf = key.sourceKdf || {};
  const salt = unb64(kdf.salt, sodium.crypto_pwhash_SALTBYTES);
  if (
    !Number.isSafeInteger(kdf.opslimit) || kdf.opslimit < 1 || kdf.opslimit > MAX_KDF_OPSLIMIT ||
    !Number.isSafeInteger(kdf.memlimit) || kdf.memlimit < 8192 || kdf.memlimit > MAX_KDF_MEMLIMIT
  ) {
    throw new JobError('key_invalid');
  }
  emit('status', { stage: 'derive' });
  const material = sodium.crypto_pwhash(
    64,
    sodium.from_string(message.canonical),
    salt,
    kdf.opslimit,
    kdf.memlimit,
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
  const source = sodium.crypto_box_seed_keypair(material.subarray(32, 64));
  sodium.memzero(material);
  const replyKeys = sodium.crypto_box_keypair();
  try {
    const envelope = { v: 1, reply_to: b64(replyKeys.publicKey), codename: message.codename };
    const sealed = sodium.crypto_box_seal(sodium.from_string(JSON.stringify(envelope)), key.publicKey);
    emit('status', { stage: 'fetch' });
    const answer = await json(`${config.api}/replies`, { key_id: key.keyId, envelope: b64(sealed) }, { emit });
    let listing;
    try {
      const opened = sodium.crypto_box_seal_open(unb64(answer.sealed), replyKeys.publicKey, replyKeys.privateKey);
      listing = JSON.parse(sodium.to_string(opened));
    } catch (error) {
      throw new JobError('receipt_unreadable');
    }
    const replies = Array.isArray(listing.replies) ? listing.replies : [];
    return {
      replies: replies.map((reply) => ({ at: String(reply.at ?? ''), text: openReply(reply.sealed, source) })),
    };
  } finally {
    sodium.memzero(replyKeys.privateKey);
    sodium.memzero(source.privateKey);
  }
}

function openReply(sealed, source) {
  try {
    return sodium.to_string(sodium.crypto_box_seal_open(unb64(sealed), source.publicKey, source.privateKey));
  } catch (error) {
    return null; // shown as "this reply could not be opened"
  }
}

/**
 * Encrypt a file exactly as a submission does, without sending it (bench/browser_seal.py
 * measures sealing speed with this). Returns the bytes sealed and the milliseconds it took.
 */
async function measureJob(message) {
  const file = message.file;
  prepareHashWorker([file]);
  const fileKey = sodium.crypto_secretstream_xchacha20poly1305_keygen();
  const { state } = sodium.crypto_secretstream_xchacha20poly1305_init_push(fileKey);
  let sealedBytes = 0;
  const started = performance.now();
  const hash = await startHash(file, 'measure');
  const sha256 = await encryptFile(file, 'measure', state, hash, (index, cipher) => {
    sealedBytes += cipher.length;
  });
  const ms = performance.now() - started;
  sodium.memzero(fileKey);
  return { bytes: file.size, sealedBytes, ms, sha256 };
}
