"""Sealed render-cache entries: a round trip gives the text back, anything else is None."""

from __future__ import annotations

import hashlib

import pytest

from gatekeeper.sources.render import seal

KEY = hashlib.sha256(b"inputs").digest()
TEXT = b"apiVersion: v1\nkind: Secret\nstringData: {password: Zq8vT3mW9xLp2RkY7nBf}\n"


@pytest.mark.parametrize("plain", [b"", b"x", TEXT, TEXT * 40_000])  # the last spans two keystream blocks
def test_a_sealed_text_unseals_under_its_key_and_label(plain: bytes) -> None:
    sealed = seal.seal(KEY, b"render", plain)
    assert seal.unseal(KEY, b"render", sealed) == plain
    assert len(sealed) == len(plain) + len(seal.FORMAT) + seal.NONCE + seal.TAG


def test_the_text_does_not_appear_and_each_seal_is_fresh() -> None:
    first, second = seal.seal(KEY, b"render", TEXT), seal.seal(KEY, b"render", TEXT)
    assert first != second  # a fresh nonce: the same text never gives the same cipher text twice
    for sealed in (first, second):
        assert b"Zq8vT3mW9xLp2RkY7nBf" not in sealed and b"kind: Secret" not in sealed
    a, b = (s[len(seal.FORMAT) + seal.NONCE + seal.TAG:] for s in (first, second))
    assert bytes(x ^ y for x, y in zip(a, b, strict=True)) != bytes(len(a))  # no keystream reuse


def test_a_wrong_key_or_label_is_none() -> None:
    sealed = seal.seal(KEY, b"render", TEXT)
    assert seal.unseal(hashlib.sha256(b"other inputs").digest(), b"render", sealed) is None
    assert seal.unseal(KEY, b"objects", sealed) is None


def test_every_changed_byte_and_every_truncation_is_none() -> None:
    sealed = seal.seal(KEY, b"render", TEXT[:40])
    for at in range(len(sealed)):
        flipped = sealed[:at] + bytes([sealed[at] ^ 1]) + sealed[at + 1:]
        assert seal.unseal(KEY, b"render", flipped) is None, at
    for size in range(len(sealed)):
        assert seal.unseal(KEY, b"render", sealed[:size]) is None, size
    assert seal.unseal(KEY, b"render", sealed + b"\0") is None


def test_a_value_of_another_type_is_none() -> None:
    for stored in (None, "text", 42, bytearray(seal.seal(KEY, b"render", TEXT))):
        assert seal.unseal(KEY, b"render", stored) is None  # type: ignore[arg-type]


def test_the_sealing_key_is_not_the_digest_of_the_same_bytes() -> None:
    material = seal.KeyMaterial()
    material.update(b"inputs")
    assert material.key() != hashlib.sha256(b"inputs").digest()
    assert material.key() == hashlib.sha256(seal.KEY_DOMAIN + b"inputs").digest()
