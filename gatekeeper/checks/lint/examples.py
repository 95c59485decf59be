"""Builders for the bad/good examples rules show in ``gatekeeper explain`` (tests run them)."""

from __future__ import annotations

import textwrap

IMAGE = "registry.example.com/shop/web:1.4.2"


def _block(text: str, indent: int) -> str:
    body = textwrap.dedent(text).strip("\n")
    return textwrap.indent(body, " " * indent) + "\n" if body else ""


def pod(container: str = "", spec: str = "", image: str = IMAGE) -> str:
    """A Pod named web with one container; ``container`` and ``spec`` add YAML lines."""
    return ("apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  labels:\n    app: web\nspec:\n"
            + _block(spec, 2)
            + f"  containers:\n    - name: web\n      image: {image}\n" + _block(container, 6))


def deployment(container: str = "", spec: str = "", image: str = IMAGE, replicas: int = 2,
               name: str = "web") -> str:
    """A Deployment with one container; ``spec`` adds pod spec lines."""
    return (f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n"
            f"  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n"
            f"  template:\n    metadata:\n      labels:\n        app: {name}\n    spec:\n"
            + _block(spec, 6)
            + f"      containers:\n        - name: {name}\n          image: {image}\n"
            + _block(container, 10))


def doc(text: str) -> str:
    """A literal example, dedented."""
    return textwrap.dedent(text).lstrip("\n")
