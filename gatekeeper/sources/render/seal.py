"""Sealed render-cache entries: readable only by whoever holds every byte of the unit's inputs.

A unit's rendered output can hold whatever its inputs hold (a Secret literal, a generator's
file, a values file's password, in any encoding a template chooses), so the render cache keeps
every output sealed: encrypted and authenticated under a key derived from the full bytes of the
unit's input files (:class:`KeyMaterial`), with a domain separator no other digest of the store
uses. The store keys an entry by another digest of the same inputs, under another separator, so
nothing stored gives the key; whoever can derive it already holds the inputs, and so learns
nothing from the entry that the repository does not say. The limit: someone who knows every
input byte but a low-entropy secret can test guesses against an entry, exactly as against the
input digest the store already keeps as the entry's key.

Standard library only: the keystream is SHAKE-256 over the key, a fresh random nonce and a block
counter, XORed with the plain text; the tag is HMAC-SHA256 under a separately derived key, over
the format, the entry's label (so an output cannot pass for a unit's documents), the nonce and
the cipher text. :func:`unseal` checks the tag before anything is decrypted, and any mismatch,
truncation or foreign format is ``None``, never an exception.
"""

from __future__ import annotations

import hashlib
import hmac
import os

FORMAT = b"gk-seal/1"
KEY_DOMAIN = b"gatekeeper render seal key/1\n"  # the sealing key's separator (no other digest uses it)
_STREAM = b"gatekeeper render seal stream\0"
_MAC = b"gatekeeper render seal mac\0"
NONCE = 16
TAG = 32
BLOCK = 1 << 20  # keystream block: one SHAKE call per MiB of text


class KeyMaterial:
    """The sealing key of a unit, fed the same bytes as the store's digest of its inputs but under
    :data:`KEY_DOMAIN`, so the two digests share nothing a reader of the store could use."""

    __slots__ = ("_hash",)

    def __init__(self) -> None:
        self._hash = hashlib.sha256(KEY_DOMAIN)

    def update(self, data: bytes) -> None:
        self._hash.update(data)

    def key(self) -> bytes:
        return self._hash.digest()


def seal(key: bytes, label: bytes, plain: bytes) -> bytes:
    """``plain`` encrypted and tagged under ``key`` for the entry part ``label``."""
    nonce = os.urandom(NONCE)
    cipher = _xor(plain, _keystream(key, nonce, len(plain)))
    return FORMAT + nonce + _tag(key, label, nonce, cipher) + cipher


def unseal(key: bytes, label: bytes, sealed: bytes) -> bytes | None:
    """The plain text of a sealed entry part, or None when the entry is not exactly one this key
    sealed for ``label`` (tampered, truncated, another unit's, another format)."""
    head = len(FORMAT)
    if not isinstance(sealed, bytes) or len(sealed) < head + NONCE + TAG or not sealed.startswith(FORMAT):
        return None
    nonce, tag, cipher = sealed[head:head + NONCE], sealed[head + NONCE:head + NONCE + TAG], sealed[head + NONCE + TAG:]
    if not hmac.compare_digest(tag, _tag(key, label, nonce, cipher)):
        return None
    return _xor(cipher, _keystream(key, nonce, len(cipher)))


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    seed = _STREAM + key + nonce
    return b"".join(hashlib.shake_256(seed + block.to_bytes(8, "big")).digest(min(BLOCK, length - start))
                    for block, start in enumerate(range(0, length, BLOCK)))


def _tag(key: bytes, label: bytes, nonce: bytes, cipher: bytes) -> bytes:
    mac = hmac.new(hashlib.sha256(_MAC + key).digest(), digestmod=hashlib.sha256)
    for part in (FORMAT, len(label).to_bytes(4, "big"), label, nonce):
        mac.update(part)
    mac.update(cipher)
    return mac.digest()


def _xor(data: bytes, stream: bytes) -> bytes:
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(len(data), "little")
