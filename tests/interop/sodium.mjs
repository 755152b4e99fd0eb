// Interop helper: libsodium.js (the library Filon's browser code uses) on the other side of
// Filon's Python crypto. Reads ONE JSON request from stdin, writes ONE JSON response to stdout.
//
//   node tests/interop/sodium.mjs <<< '{"op": "generichash", "message": "<b64>"}'
//
// Binary values travel as standard base64. A request is {"op": ..., fields}; the response is
// the op's result, or {"error": "<reason>"} when the crypto or a format rule refuses the input.
// {"op": "batch", "requests": [...]} answers {"responses": [...]} in one process, which keeps the
// test suite fast. A malformed request (unknown op, missing field) exits 2 with a message on
// stderr: that is a bug in the caller, not a crypto answer.
//
// Streams are `filon-stream/1` (shared/DESIGN.md §4) and go through files ("out" / "path"),
// not JSON, since they can be several MiB. Test plaintext is deterministic on both sides:
// byte i of the plaintext is i % 251.

import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';

import _sodium from 'libsodium-wrappers-sumo';
import { canonicalize } from './canonical.mjs';

await _sodium.ready;
const sodium = _sodium;

const MAGIC = Buffer.from('FLN1', 'ascii');
const CHUNK_SIZE = 1024 * 1024;
const ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES; // 17
const HEADER_BYTES = sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES; // 24
const CIPHER_CHUNK_SIZE = CHUNK_SIZE + ABYTES;
const TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
const TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
const PLAINTEXT_MODULUS = 251;

// FWK1 wrapped key (crypto/kdf.py): b"FWK1" | opslimit u32 | memlimit u64 | salt 16 |
// nonce 24 | secretbox(key) 48, integers big-endian.
const FWK1_MAGIC = 'FWK1';
const FWK1_BYTES = 4 + 4 + 8 + 16 + 24 + 48;
const FWK1_MAX_OPSLIMIT = 64;
const FWK1_MAX_MEMLIMIT = 4 * 1024 ** 3;

class RequestError extends Error {}

class Refused extends Error {}

function b64(bytes) {
  return Buffer.from(bytes).toString('base64');
}

function unb64(text, what) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4) {
    throw new RequestError(`${what} is not standard base64`);
  }
  return new Uint8Array(Buffer.from(text, 'base64'));
}

function field(req, name) {
  if (!(name in req)) throw new RequestError(`${req.op}: missing field "${name}"`);
  return req[name];
}

function bytesField(req, name) {
  return unb64(field(req, name), `${req.op}.${name}`);
}

function intField(req, name) {
  const value = field(req, name);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RequestError(`${req.op}.${name} must be a non-negative integer`);
  }
  return value;
}

/** Plaintext bytes [start, start + length) of the deterministic test plaintext. */
function plaintextSlice(start, length) {
  const out = new Uint8Array(length);
  let value = start % PLAINTEXT_MODULUS;
  for (let i = 0; i < length; i++) {
    out[i] = value;
    value = value + 1 === PLAINTEXT_MODULUS ? 0 : value + 1;
  }
  return out;
}

function streamEncrypt(req) {
  const key = bytesField(req, 'key');
  const length = intField(field(req, 'plaintext_spec'), 'length');
  let state;
  let header;
  if (req.header !== undefined && req.header !== null) {
    // Test vectors only: init_pull derives from a header the very state init_push would
    // have made, so pushing on it reproduces a stream for a chosen header.
    header = bytesField(req, 'header');
    state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, key);
  } else {
    ({ state, header } = sodium.crypto_secretstream_xchacha20poly1305_init_push(key));
  }
  const fd = openSync(field(req, 'out'), 'w');
  const streamSha = createHash('sha256');
  const plainSha = createHash('sha256');
  let written = 0;
  let chunks = 0;
  const emit = (bytes) => {
    writeSync(fd, bytes);
    streamSha.update(bytes);
    written += bytes.length;
  };
  try {
    emit(MAGIC);
    emit(header);
    for (let offset = 0; ; offset += CHUNK_SIZE) {
      const size = Math.min(CHUNK_SIZE, length - offset);
      const final = size < CHUNK_SIZE; // an exact multiple ends with an empty final chunk
      const plaintext = plaintextSlice(offset, size);
      plainSha.update(plaintext);
      emit(
        sodium.crypto_secretstream_xchacha20poly1305_push(
          state,
          plaintext,
          null,
          final ? TAG_FINAL : TAG_MESSAGE,
        ),
      );
      chunks += 1;
      if (final) break;
    }
  } finally {
    closeSync(fd);
  }
  return {
    header: b64(header),
    chunks,
    stream_length: written,
    stream_sha256: streamSha.digest('hex'),
    plaintext_length: length,
    plaintext_sha256: plainSha.digest('hex'),
  };
}

function readUpTo(fd, size) {
  const buffer = Buffer.alloc(size);
  let got = 0;
  while (got < size) {
    const n = readSync(fd, buffer, got, size - got, null);
    if (n === 0) break;
    got += n;
  }
  return new Uint8Array(buffer.buffer, buffer.byteOffset, got);
}

/** Read a filon-stream/1 file with the rules of crypto/stream.py's StreamReader. */
function streamDecrypt(req) {
  const key = bytesField(req, 'key');
  const fd = openSync(field(req, 'path'), 'r');
  try {
    const magic = readUpTo(fd, MAGIC.length);
    if (!MAGIC.equals(Buffer.from(magic))) throw new Refused('bad magic: not FLN1');
    const header = readUpTo(fd, HEADER_BYTES);
    if (header.length !== HEADER_BYTES) throw new Refused('header truncated');
    const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, key);
    const sha = createHash('sha256');
    let length = 0;
    for (let index = 0; ; index++) {
      const ciphertext = readUpTo(fd, CIPHER_CHUNK_SIZE);
      if (ciphertext.length === 0) throw new Refused(`missing final tag after ${index} chunks`);
      if (ciphertext.length < ABYTES) throw new Refused(`truncated inside chunk ${index}`);
      const result = sodium.crypto_secretstream_xchacha20poly1305_pull(state, ciphertext, null);
      if (!result) throw new Refused(`chunk ${index} failed authentication`);
      const { message, tag } = result;
      if (tag === TAG_FINAL) {
        if (message.length >= CHUNK_SIZE) throw new Refused(`chunk ${index}: full chunk tagged final`);
      } else if (tag !== TAG_MESSAGE) {
        throw new Refused(`chunk ${index}: unexpected tag ${tag}`);
      } else if (message.length !== CHUNK_SIZE) {
        throw new Refused(`chunk ${index}: short chunk not tagged final`);
      }
      sha.update(message);
      length += message.length;
      if (tag === TAG_FINAL) {
        if (readUpTo(fd, 1).length) throw new Refused('trailing data after the final chunk');
        return { plaintext_sha256: sha.digest('hex'), plaintext_length: length, chunks: index + 1 };
      }
    }
  } finally {
    closeSync(fd);
  }
}

function seal(req) {
  return { sealed: b64(sodium.crypto_box_seal(bytesField(req, 'message'), bytesField(req, 'public_key'))) };
}

function sealOpen(req) {
  const sealed = bytesField(req, 'sealed');
  if (sealed.length < sodium.crypto_box_SEALBYTES) throw new Refused('sealed box too short');
  try {
    const message = sodium.crypto_box_seal_open(
      sealed,
      bytesField(req, 'public_key'),
      bytesField(req, 'private_key'),
    );
    return { message: b64(message) };
  } catch (err) {
    throw new Refused(`seal_open failed: ${err.message}`);
  }
}

function signDetached(req) {
  const { publicKey, privateKey } = sodium.crypto_sign_seed_keypair(bytesField(req, 'seed'));
  const signature = sodium.crypto_sign_detached(bytesField(req, 'message'), privateKey);
  return { signature: b64(signature), public_key: b64(publicKey) };
}

function verifyDetached(req) {
  let valid;
  try {
    valid = sodium.crypto_sign_verify_detached(
      bytesField(req, 'signature'),
      bytesField(req, 'message'),
      bytesField(req, 'public_key'),
    );
  } catch (err) {
    if (err instanceof RequestError) throw err;
    valid = false; // libsodium.js throws on a wrong-sized signature or key
  }
  return { valid };
}

function generichash(req) {
  return { hash: sodium.crypto_generichash(32, bytesField(req, 'message'), null, 'hex') };
}

function argon2id(password, salt, opslimit, memlimit, length) {
  return sodium.crypto_pwhash(
    length,
    password,
    salt,
    opslimit,
    memlimit,
    sodium.crypto_pwhash_ALG_ARGON2ID13,
  );
}

function pwhash(req) {
  const password = field(req, 'password');
  if (typeof password !== 'string') throw new RequestError('pwhash.password must be a string');
  const output = argon2id(
    sodium.from_string(password), // UTF-8, as Python's password.encode("utf-8")
    bytesField(req, 'salt'),
    intField(req, 'opslimit'),
    intField(req, 'memlimit'),
    intField(req, 'length'),
  );
  return { output: b64(output) };
}


function sourceKeys(req) {
  // "codename" is what a source typed (canonicalized here, as the browser would);
  // "codename_canonical" is an already canonical form.
  const canonical =
    req.codename_canonical !== undefined ? field(req, 'codename_canonical') : canonicalize(field(req, 'codename'));
  const material = argon2id(
    sodium.from_string(canonical),
    bytesField(req, 'salt'),
    intField(req, 'opslimit'),
    intField(req, 'memlimit'),
    64,
  );
  const { publicKey } = sodium.crypto_box_seed_keypair(material.subarray(32));
  return { canonical, lookup_id: b64(material.subarray(0, 32)), public_key: b64(publicKey) };
}

function secretboxUnwrap(req) {
  const blob = bytesField(req, 'blob');
  const password = field(req, 'password');
  if (blob.length !== FWK1_BYTES) throw new Refused(`FWK1 blob is ${blob.length} bytes`);
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  if (sodium.to_string(blob.subarray(0, 4)) !== FWK1_MAGIC) throw new Refused('bad FWK1 magic');
  const opslimit = view.getUint32(4, false);
  const memlimit = Number(view.getBigUint64(8, false));
  // The bounds crypto/kdf.py enforces, so a hostile blob cannot make a browser spend 4 GiB+.
  if (opslimit < 1 || opslimit > FWK1_MAX_OPSLIMIT || memlimit < 8192 || memlimit > FWK1_MAX_MEMLIMIT) {
    throw new Refused('FWK1 names Argon2id parameters out of range');
  }
  const salt = blob.subarray(16, 32);
  const nonce = blob.subarray(32, 56);
  const box = blob.subarray(56);
  const key = argon2id(sodium.from_string(password), salt, opslimit, memlimit, 32);
  try {
    return { secret: b64(sodium.crypto_secretbox_open_easy(box, nonce, key)), opslimit, memlimit };
  } catch (err) {
    throw new Refused(`secretbox did not open: ${err.message}`);
  }
}

const OPS = {
  version: () => ({ libsodium: sodium.SODIUM_VERSION_STRING }),
  stream_encrypt: streamEncrypt,
  stream_decrypt: streamDecrypt,
  seal,
  seal_open: sealOpen,
  sign_detached: signDetached,
  verify_detached: verifyDetached,
  generichash,
  pwhash,
  canonicalize: (req) => ({ canonical: canonicalize(field(req, 'text')) }),
  source_keys: sourceKeys,
  secretbox_unwrap: secretboxUnwrap,
};

function answer(req) {
  if (req === null || typeof req !== 'object') throw new RequestError('a request is a JSON object');
  if (req.op === 'batch') return { responses: field(req, 'requests').map(answer) };
  const op = OPS[req.op];
  if (!op) throw new RequestError(`unknown op ${JSON.stringify(req.op)}`);
  try {
    return op(req);
  } catch (err) {
    if (err instanceof Refused) return { error: err.message };
    throw err;
  }
}

try {
  const request = JSON.parse(readFileSync(0, 'utf8'));
  process.stdout.write(`${JSON.stringify(answer(request))}\n`);
} catch (err) {
  process.stderr.write(`sodium.mjs: ${err instanceof RequestError ? err.message : err.stack}\n`);
  process.exitCode = 2;
}
