// Known-answer vectors for Filon's formats, made with libsodium.js so that they come from an
// implementation independent of the Python code they pin (crypto/*.py, PyNaCl).
//
//   node tests/vectors/generate.mjs [out-dir]      (default: the directory of this script)
//
// Every input is fixed (derived from labels with BLAKE2b), so the output is the same on every
// run: tests/test_interop.py regenerates the vectors into a temporary directory and checks
// that they equal the committed files byte for byte. tests/test_vectors.py reads the JSON only
// and never needs node. Binary values are standard base64; digests the contracts write in hex
// (fingerprints, SHA-256) are hex. Files stay small: streams are pinned by their SHA-256.

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import _sodium from 'libsodium-wrappers-sumo';
import { canonicalize } from '../interop/canonical.mjs';

await _sodium.ready;
const sodium = _sodium;

const GENERATOR = 'tests/vectors/generate.mjs (libsodium.js, libsodium-wrappers-sumo)';
const CHUNK_SIZE = 1024 * 1024;
const TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
const TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL;
const ARGON2ID = sodium.crypto_pwhash_ALG_ARGON2ID13;
const CHEAP = { opslimit: 1, memlimit: 8192 }; // libsodium's minimum, crypto.kdf.CHEAP_PARAMS
const SOURCE_PARAMS = { opslimit: 3, memlimit: 16777216 }; // crypto.kdf.SOURCE_KEY_PARAMS

const b64 = (bytes) => Buffer.from(bytes).toString('base64');
const hex = (bytes) => Buffer.from(bytes).toString('hex');
const utf8 = (text) => sodium.from_string(text);
const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** Fixed pseudo-random bytes for a label: BLAKE2b("filon test vector: " + label). */
function fixed(label, length) {
  return sodium.crypto_generichash(length, utf8(`filon test vector: ${label}`), null);
}

function check(condition, what) {
  if (!condition) throw new Error(`generator self-check failed: ${what}`);
}

function argon2id(password, salt, { opslimit, memlimit }, length) {
  return sodium.crypto_pwhash(length, utf8(password), salt, opslimit, memlimit, ARGON2ID);
}

// -- fingerprints (DESIGN.md §3): lowercase hex of BLAKE2b-256 over the public key ------------

function fingerprintVectors() {
  const keys = [
    ['all zero bytes', new Uint8Array(32)],
    ['bytes 0..31', Uint8Array.from({ length: 32 }, (_, i) => i)],
    ['X25519 public key', sodium.crypto_box_seed_keypair(fixed('fingerprint box seed', 32)).publicKey],
    ['Ed25519 public key', sodium.crypto_sign_seed_keypair(fixed('fingerprint sign seed', 32)).publicKey],
  ];
  return {
    format: 'fingerprint',
    description: 'lowercase hex of BLAKE2b-256(public key); shown to people in groups of four',
    cases: keys.map(([name, publicKey]) => {
      const fingerprint = sodium.crypto_generichash(32, publicKey, null, 'hex');
      return {
        name,
        public_key: b64(publicKey),
        fingerprint,
        display: fingerprint.match(/.{4}/g).join(' '),
      };
    }),
  };
}

// -- Ed25519 detached signatures --------------------------------------------------------------

// RFC 8032 §7.1 TEST 1, so the Ed25519 vectors are anchored outside libsodium as well.
const RFC8032_TEST1 = {
  seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  public_key: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
  signature:
    'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
};

function ed25519Vectors() {
  const orgSeed = fixed('org signing seed', 32);
  const orgPublic = sodium.crypto_sign_seed_keypair(orgSeed).publicKey;
  const intakeKey = sodium.crypto_box_seed_keypair(fixed('intake key seed', 32)).publicKey;
  const inputs = [
    ['RFC 8032 TEST 1 (empty message)', sodium.from_hex(RFC8032_TEST1.seed), new Uint8Array(0)],
    ['empty message', orgSeed, new Uint8Array(0)],
    ['intake public key (GET /api/v1/key)', orgSeed, intakeKey],
    ['receipt, UTF-8', orgSeed, utf8('FLN-2025-0042 · reçu le 3 mars · 受付済み')],
    ['1000 bytes', orgSeed, repeat(fixed('signed blob', 64), 1000)],
  ];
  const cases = inputs.map(([name, seed, message]) => {
    const { publicKey, privateKey } = sodium.crypto_sign_seed_keypair(seed);
    const signature = sodium.crypto_sign_detached(message, privateKey);
    check(sodium.crypto_sign_verify_detached(signature, message, publicKey), `${name} verifies`);
    return { name, seed: b64(seed), public_key: b64(publicKey), message: b64(message), signature: b64(signature) };
  });
  check(hex(Buffer.from(cases[0].public_key, 'base64')) === RFC8032_TEST1.public_key, 'RFC 8032 key');
  check(hex(Buffer.from(cases[0].signature, 'base64')) === RFC8032_TEST1.signature, 'RFC 8032 sig');
  check(b64(orgPublic) === cases[1].public_key, 'org key');
  return { format: 'ed25519', description: 'Ed25519 detached signatures (crypto_sign_seed_keypair)', cases };
}

function repeat(pattern, length) {
  return Uint8Array.from({ length }, (_, i) => pattern[i % pattern.length]);
}

// -- Argon2id ---------------------------------------------------------------------------------

function argon2idVectors() {
  const inputs = [
    ['cheap, ASCII', 'correct horse battery staple', fixed('salt 1', 16), CHEAP, 32],
    ['non-ASCII password (UTF-8)', 'pässwörd ✓ 密码 пароль', fixed('salt 2', 16), { opslimit: 2, memlimit: 16384 }, 32],
    ['64-byte output', 'filon', fixed('salt 3', 16), { opslimit: 3, memlimit: 65536 }, 64],
    ['empty password', '', fixed('salt 4', 16), CHEAP, 16],
    ['source key parameters (production)', 'source codename text', fixed('salt 5', 16), SOURCE_PARAMS, 64],
  ];
  return {
    format: 'argon2id',
    description: 'Argon2id v1.3 (crypto_pwhash ALG_ARGON2ID13); password as UTF-8 bytes',
    cases: inputs.map(([name, password, salt, params, length]) => ({
      name,
      password,
      salt: b64(salt),
      opslimit: params.opslimit,
      memlimit: params.memlimit,
      length,
      output: b64(argon2id(password, salt, params, length)),
    })),
  };
}

// -- codenames -> (lookup id, source public key) ----------------------------------------------

// Codenames as a source might type them (composed accents, capitals, odd spacing); every
// word comes from the language's BIP-39 list in the Python `mnemonic` package.
const CODENAMES = [
  ['en', '  About Balance\tENERGY faculty  shop glimpse build degree\n'],
  ['fr', 'Académie décider ÉCLUSE épisode féroce matériel posséder sécable'],
  ['es', 'ábaco báscula cúpula gavilán línea opción pulmón sultán'],
  ['ru', 'Авангард важный импульс кепка солома лента войско дядя'],
  ['tr', 'abdal avdet günaydın hudut sungur keyfiyet buram enzim'],
  ['ja', 'あいだ\u3000おうべい\u3000ぐうたら\u3000こんぽん\u3000せすじ\u3000だんぼう\u3000ぬぐいとる\u3000ぶんがく'],
  ['ko', '가격 기름 무덤 사탕 실컷 위반 제법 클럽'],
  ['zh', '在反练钢糊吗农格'],
];


function codenameVectors() {
  const salt = fixed('instance salt', 16);
  return {
    format: 'codename',
    description:
      'Argon2id(canonical codename UTF-8, instance salt) -> 64 bytes: lookup id = first 32, ' +
      'crypto_box_seed_keypair(last 32) -> source public key',
    salt: b64(salt),
    opslimit: CHEAP.opslimit,
    memlimit: CHEAP.memlimit,
    cases: CODENAMES.map(([language, typed]) => {
      const canonical = canonicalize(typed);
      check(canonical.split(' ').length === 8, `${language} codename has 8 words`);
      const material = argon2id(canonical, salt, CHEAP, 64);
      const { publicKey } = sodium.crypto_box_seed_keypair(material.subarray(32));
      return {
        language,
        typed,
        canonical,
        lookup_id: b64(material.subarray(0, 32)),
        public_key: b64(publicKey),
      };
    }),
  };
}

// -- filon-stream/1 ---------------------------------------------------------------------------

function plaintext(length) {
  return Uint8Array.from({ length }, (_, i) => i % 251);
}

function streamVectors() {
  const key = fixed('stream key', 32);
  const header = fixed('stream header', 24);
  const cases = [0, 1, CHUNK_SIZE - 1, CHUNK_SIZE, 2 * CHUNK_SIZE + 5].map((length) => {
    const plain = plaintext(length);
    // Test vectors only: a push state for a chosen header (init_pull makes init_push's state).
    const state = sodium.crypto_secretstream_xchacha20poly1305_init_pull(header, key);
    const parts = [Buffer.from('FLN1', 'ascii'), header];
    for (let offset = 0; ; offset += CHUNK_SIZE) {
      const chunk = plain.subarray(offset, Math.min(offset + CHUNK_SIZE, length));
      const final = chunk.length < CHUNK_SIZE;
      parts.push(
        sodium.crypto_secretstream_xchacha20poly1305_push(state, chunk, null, final ? TAG_FINAL : TAG_MESSAGE),
      );
      if (final) break;
    }
    const stream = Buffer.concat(parts);
    const entry = {
      plaintext_length: length,
      plaintext_sha256: sha256(plain),
      chunks: parts.length - 2,
      stream_length: stream.length,
      stream_sha256: sha256(stream),
    };
    if (stream.length <= 64) entry.stream = b64(stream);
    return entry;
  });
  return {
    format: 'filon-stream/1',
    description:
      'b"FLN1" | header 24 | secretstream chunks of 1 MiB (TAG_MESSAGE), last shorter (TAG_FINAL); ' +
      'plaintext byte i = i % 251; the header is fixed so the ciphertext is reproducible',
    key: b64(key),
    header: b64(header),
    cases,
  };
}

// -- sealed envelopes (crypto_box_seal) -------------------------------------------------------

/**
 * crypto_box_seal with a chosen ephemeral key, so the vector is reproducible: libsodium's
 * definition is epk | crypto_box(m, nonce = BLAKE2b-192(epk | pk), pk, esk). Each result is
 * checked by libsodium.js's own crypto_box_seal_open.
 */
function sealWithEphemeral(message, recipientPublic, ephemeralSeed) {
  const ephemeral = sodium.crypto_box_seed_keypair(ephemeralSeed);
  const nonceInput = new Uint8Array(64);
  nonceInput.set(ephemeral.publicKey, 0);
  nonceInput.set(recipientPublic, 32);
  const nonce = sodium.crypto_generichash(sodium.crypto_box_NONCEBYTES, nonceInput, null);
  const box = sodium.crypto_box_easy(message, nonce, recipientPublic, ephemeral.privateKey);
  const sealed = new Uint8Array(32 + box.length);
  sealed.set(ephemeral.publicKey, 0);
  sealed.set(box, 32);
  return sealed;
}

function sealedVectors() {
  const recipient = sodium.crypto_box_seed_keypair(fixed('desk key seed', 32));
  const envelope = JSON.stringify({
    v: 1,
    desk: 'kivu-mines',
    lang: 'fr',
    reply_to: b64(sodium.crypto_box_seed_keypair(fixed('reply_to seed', 32)).publicKey),
    codename: null,
    answers: { lieu: 'Rubaya', récit: 'Les camions partent la nuit.' },
    files: [],
  });
  const messages = [
    ['empty message', new Uint8Array(0)],
    ['submission envelope (UTF-8 JSON)', utf8(envelope)],
    ['300 bytes', repeat(fixed('sealed blob', 64), 300)],
  ];
  return {
    format: 'sealed',
    description: 'crypto_box_seal: ephemeral X25519 public key 32 | crypto_box ciphertext (+16)',
    recipient_private_key: b64(recipient.privateKey),
    recipient_public_key: b64(recipient.publicKey),
    cases: messages.map(([name, message], i) => {
      const sealed = sealWithEphemeral(message, recipient.publicKey, fixed(`ephemeral seed ${i}`, 32));
      const opened = sodium.crypto_box_seal_open(sealed, recipient.publicKey, recipient.privateKey);
      check(hex(opened) === hex(message), `${name} opens with crypto_box_seal_open`);
      return { name, sealed: b64(sealed), message: b64(message) };
    }),
  };
}

// -- FWK1 wrapped keys (crypto/kdf.py) --------------------------------------------------------

/** b"FWK1" | opslimit u32 | memlimit u64 | salt 16 | nonce 24 | secretbox(secret) 48. */
function wrapKey(secret, password, params, salt, nonce) {
  const key = argon2id(password, salt, params, 32);
  const box = sodium.crypto_secretbox_easy(secret, nonce, key);
  const blob = new Uint8Array(4 + 4 + 8 + 16 + 24 + box.length);
  const view = new DataView(blob.buffer);
  blob.set(utf8('FWK1'), 0);
  view.setUint32(4, params.opslimit, false);
  view.setBigUint64(8, BigInt(params.memlimit), false);
  blob.set(salt, 16);
  blob.set(nonce, 32);
  blob.set(box, 56);
  return blob;
}

function fwk1Vectors() {
  const inputs = [
    ['cheap parameters, ASCII password', 'correct horse battery staple', CHEAP],
    ['non-ASCII password', 'mot de passe très sûr ✓ 密码', { opslimit: 2, memlimit: 16384 }],
  ];
  return {
    format: 'FWK1',
    description:
      'wrapped key: b"FWK1" | opslimit u32 BE | memlimit u64 BE | salt 16 | nonce 24 | ' +
      'crypto_secretbox(secret, nonce, Argon2id(password UTF-8, salt)) 48',
    cases: inputs.map(([name, password, params], i) => {
      const secret = fixed(`wrapped secret ${i}`, 32);
      const blob = wrapKey(secret, password, params, fixed(`fwk1 salt ${i}`, 16), fixed(`fwk1 nonce ${i}`, 24));
      check(blob.length === 104, 'FWK1 blob is 104 bytes');
      return { name, password, opslimit: params.opslimit, memlimit: params.memlimit, blob: b64(blob), secret: b64(secret) };
    }),
  };
}

const outDir = process.argv[2] ?? dirname(fileURLToPath(import.meta.url));
mkdirSync(outDir, { recursive: true });
const files = {
  'fingerprint.json': fingerprintVectors(),
  'ed25519.json': ed25519Vectors(),
  'argon2id.json': argon2idVectors(),
  'codename.json': codenameVectors(),
  'stream.json': streamVectors(),
  'sealed.json': sealedVectors(),
  'fwk1.json': fwk1Vectors(),
};
for (const [name, content] of Object.entries(files)) {
  writeFileSync(join(outDir, name), `${JSON.stringify({ generator: GENERATOR, ...content }, null, 2)}\n`);
}
process.stdout.write(`${Object.keys(files).join(' ')} -> ${outDir}\n`);
