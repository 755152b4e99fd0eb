"""A Filon intake client written from DESIGN.md §4 alone: Python's standard library and PyNaCl.

It imports nothing from Filon on purpose: it shows that the documented protocol is enough to
write a client (a field app, a script), and the tests use it to check the server against the
contract rather than against its own code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import unicodedata
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import nacl.bindings as sodium
from nacl.encoding import RawEncoder
from nacl.hash import blake2b
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import VerifyKey

CHUNK = 1_048_576
TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL


class ServerError(Exception):
    """The server answered an error: ``status`` and its ``{"error", "message"}`` body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body.get('error')}: {body.get('message')}")
        self.status = status
        self.code = body.get("error")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


@dataclass
class FileToSend:
    name: str
    type: str
    data: bytes
    keep_location: bool = False
    keep_time: bool = False


@dataclass
class Receipt:
    receipt: str
    signed_receipt: bytes
    codename: str | None


@dataclass
class Client:
    base_url: str
    expected_signing_key: bytes | None = None
    shuffle_chunks: bool = True
    key_info: dict[str, Any] = field(default_factory=dict)

    # -- HTTP ------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        content_type: str = "application/json",
    ) -> dict[str, Any]:
        req = urllib.request.Request(self.base_url + path, data=body, method=method)
        if body is not None:
            req.add_header("Content-Type", content_type)
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise ServerError(exc.code, json.loads(exc.read())) from None

    def post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, json.dumps(payload).encode())

    # -- step 1 ----------------------------------------------------------------------------

    def fetch_key(self) -> dict[str, Any]:
        """GET /api/v1/key and check it as §4 and §3 say."""
        info = self.request("GET", "/api/v1/key")
        public_key = unb64(info["public_key"])
        if blake2b(public_key, digest_size=32, encoder=RawEncoder).hex() != info["key_id"]:
            raise ValueError("key_id is not the fingerprint of public_key")
        signing_key = unb64(info["signing_key"])
        if self.expected_signing_key is not None and signing_key != self.expected_signing_key:
            raise ValueError("the signing key is not the organisation's")
        VerifyKey(signing_key).verify(public_key, unb64(info["signature"]))
        self.key_info = info
        return info

    # -- steps 2 and 3 ---------------------------------------------------------------------

    def encrypt(self, data: bytes) -> tuple[bytes, bytes, list[bytes]]:
        """A fresh file key, the secretstream header, and the ciphertext chunks."""
        key = sodium.crypto_secretstream_xchacha20poly1305_keygen()
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, key)
        chunks = []
        offset = 0
        while True:
            piece = data[offset : offset + CHUNK]
            offset += CHUNK
            final = len(piece) < CHUNK
            chunks.append(
                sodium.crypto_secretstream_xchacha20poly1305_push(
                    state, piece, None, TAG_FINAL if final else TAG_MESSAGE
                )
            )
            if final:
                return key, header, chunks

    def upload(self, data: bytes, *, skip: set[int] | None = None) -> tuple[str, bytes]:
        """Steps 2-3: announce and send a file's chunks (in a shuffled order, one twice)."""
        key, header, chunks = self.encrypt(data)
        created = self.post_json(
            "/api/v1/uploads",
            {
                "key_id": self.key_info["key_id"],
                "header": b64(header),
                "size": sum(len(c) for c in chunks),
            },
        )
        upload_id = created["upload_id"]
        order = list(range(len(chunks)))
        if self.shuffle_chunks:
            random.shuffle(order)
            order.append(order[0])  # idempotent: the same chunk again changes nothing
        for index in order:
            if skip and index in skip:
                continue
            self.put_chunk(upload_id, index, chunks[index])
        return upload_id, key

    def put_chunk(self, upload_id: str, index: int, chunk: bytes) -> int:
        answer = self.request(
            "PUT", f"/api/v1/uploads/{upload_id}/{index}", chunk, "application/octet-stream"
        )
        return int(answer["received"])

    # -- step 4 ----------------------------------------------------------------------------

    def solve(self, challenge: bytes, difficulty: int) -> int:
        nonce = 0
        while True:
            digest = hashlib.sha256(challenge + str(nonce).encode("ascii")).digest()
            if int.from_bytes(digest, "big") >> (256 - difficulty) == 0:
                return nonce
            nonce += 1

    def sealed_request(self, path: str, envelope: dict[str, Any], *, pow_: bool) -> dict[str, Any]:
        """Seal an envelope with a fresh reply_to key, post it, open the sealed answer."""
        payload, reply_key = self.seal_envelope(envelope, pow_=pow_)
        answer = self.post_json(path, payload)
        return json.loads(SealedBox(reply_key).decrypt(unb64(answer["sealed"])))

    def seal_envelope(
        self, envelope: dict[str, Any], *, pow_: bool
    ) -> tuple[dict[str, Any], PrivateKey]:
        """The request body of a sealed envelope (proof of work solved if asked), and the key
        that opens the answer."""
        reply_key = PrivateKey.generate()
        envelope = {**envelope, "reply_to": b64(bytes(reply_key.public_key))}
        sealed = SealedBox(PublicKey(unb64(self.key_info["public_key"]))).encrypt(
            json.dumps(envelope).encode("utf-8")
        )
        payload: dict[str, Any] = {"key_id": self.key_info["key_id"], "envelope": b64(sealed)}
        if pow_:
            challenge = unb64(self.key_info["pow"]["challenge"])
            payload["pow"] = {
                "challenge": self.key_info["pow"]["challenge"],
                "nonce": self.solve(challenge, self.key_info["pow"]["difficulty"]),
            }
        return payload, reply_key

    def submit(
        self,
        *,
        desk: str,
        answers: dict[str, str],
        files: list[FileToSend] = (),
        codename: str | None = None,
        lang: str = "en",
    ) -> Receipt:
        """Steps 1-4: a whole submission; checks the signed receipt."""
        self.fetch_key()
        entries = []
        for item in files:
            upload_id, key = self.upload(item.data)
            entries.append(self.file_entry(upload_id, key, item))
        return self.send_submission(
            desk=desk, answers=answers, entries=entries, codename=codename, lang=lang
        )

    @staticmethod
    def file_entry(upload_id: str, key: bytes, item: FileToSend) -> dict[str, Any]:
        """The envelope's entry for a file whose upload is complete."""
        return {
            "upload_id": upload_id,
            "key": b64(key),
            "name": item.name,
            "type": item.type,
            "size": len(item.data),
            "sha256": hashlib.sha256(item.data).hexdigest(),
            "keep": {"location": item.keep_location, "time": item.keep_time},
        }

    def send_submission(
        self,
        *,
        desk: str,
        answers: dict[str, str],
        entries: list[dict[str, Any]],
        codename: str | None = None,
        lang: str = "en",
    ) -> Receipt:
        """Step 4: the sealed envelope naming uploads already complete; checks the receipt."""
        self.fetch_key()  # a fresh proof-of-work challenge: each is good for one submission
        opened = self.sealed_request(
            "/api/v1/submissions",
            {
                "v": 1,
                "desk": desk,
                "lang": lang,
                "codename": codename,
                "answers": answers,
                "files": entries,
            },
            pow_=True,
        )
        signature = unb64(opened["signed_receipt"])
        VerifyKey(unb64(self.key_info["signing_key"])).verify(
            opened["receipt"].encode("utf-8"), signature
        )
        return Receipt(opened["receipt"], signature, opened.get("codename"))

    # -- step 5 ----------------------------------------------------------------------------

    def replies(self, codename: str) -> list[str]:
        """Step 5: fetch and open a returning source's replies."""
        info = self.fetch_key()
        opened = self.sealed_request("/api/v1/replies", {"v": 1, "codename": codename}, pow_=False)
        kdf = info["source_kdf"]
        canonical = canonical_codename(codename)
        material = sodium.crypto_pwhash_alg(
            64,
            canonical.encode("utf-8"),
            unb64(kdf["salt"]),
            kdf["opslimit"],
            kdf["memlimit"],
            sodium.crypto_pwhash_ALG_ARGON2ID13,
        )
        public, secret = sodium.crypto_box_seed_keypair(material[32:])
        box = SealedBox(PrivateKey(secret))
        return [box.decrypt(unb64(r["sealed"])).decode("utf-8") for r in opened["replies"]]


def canonical_codename(codename: str) -> str:
    """The canonical form of §3/§4: NFKD, lower case, no combining marks, single spaces."""
    folded = unicodedata.normalize("NFKD", codename).lower().replace("\u0131", "i")
    return " ".join(
        "".join(c for c in folded if not unicodedata.category(c).startswith("M")).split()
    )
