"""Container image and environment rules: tags, digests, duplicate variables."""

from __future__ import annotations

import re
from collections.abc import Iterator

from gatekeeper.checks.lint.examples import pod
from gatekeeper.checks.lint.pods import WORKLOAD_KINDS, as_dict, as_list, containers, pod_spec
from gatekeeper.checks.lint.registry import Hit, RuleContext, rule
from gatekeeper.model import Resource, Severity

_E, _W = Severity.ERROR, Severity.WARNING
DIGEST_IMAGE = "registry.example.com/shop/web:1.4.2@sha256:" + "4f" * 32


def split_image(ref: str) -> tuple[str, str | None, str | None]:
    """``repo[:tag][@digest]`` -> (repo, tag, digest); a registry port is not a tag."""
    name, _, digest = ref.partition("@")
    last_slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > last_slash:
        return name[:colon], name[colon + 1:], digest or None
    return name, None, digest or None


def _images(res: Resource) -> Iterator[tuple[str, str, tuple[str | int, ...]]]:
    if (p := pod_spec(res)) is None:
        return
    for c in containers(p):
        image = c.obj.get("image")
        if isinstance(image, str) and image.strip():
            yield c.label, image.strip(), c.at("image")


@rule("image-latest", _E, "A container image uses the :latest tag.", kinds=WORKLOAD_KINDS,
      rationale=":latest moves: the version that runs depends on when a node pulled it, so a rollback or a "
                "new node silently runs different code than the one reviewed.",
      hint="Pin the image to a version tag (and preferably a digest).",
      bad=pod(image="registry.example.com/shop/web:latest"), good=pod())
def image_latest(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    for label, image, path in _images(res):
        _, tag, digest = split_image(image)
        if tag == "latest" and digest is None:
            yield Hit(res, f"{label} uses image tag :latest ({image})", path, evidence=image)


@rule("image-untagged", _E, "A container image has neither a tag nor a digest (it means :latest).",
      kinds=WORKLOAD_KINDS,
      rationale="An image without a tag is pulled as :latest, with the same drift and rollback problems.",
      hint="Add a version tag (and preferably a digest) to the image.",
      bad=pod(image="registry.example.com/shop/web"), good=pod())
def image_untagged(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    for label, image, path in _images(res):
        _, tag, digest = split_image(image)
        if tag is None and digest is None:
            yield Hit(res, f"{label} image {image} has no tag or digest", path, evidence=image)


@rule("image-digest", _W, "A container image is not pinned by digest.", kinds=WORKLOAD_KINDS, enabled=False,
      rationale="Tags can be moved or overwritten in the registry; only a digest names exact bytes.",
      hint="Reference the image as repo:tag@sha256:<digest> (tools such as crane or renovate fill it in).",
      bad=pod(), good=pod(image=DIGEST_IMAGE))
def image_digest(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    for label, image, path in _images(res):
        if split_image(image)[2] is None:
            yield Hit(res, f"{label} image {image} is not pinned by digest", path, evidence=image)


FLOATING_TAGS = ["latest", "main", "master", "develop", "dev", "edge", "nightly", "stable", "canary",
                 "snapshot", "head", "unstable", "beta", "alpha", "rolling", "current", "release", "next"]
_MAJOR_ONLY = re.compile(r"v?\d+")


@rule("image-pull-policy", _W, "A container pulls a mutable tag with imagePullPolicy IfNotPresent or Never.",
      kinds=WORKLOAD_KINDS, options={"floating_tags": FLOATING_TAGS},
      option_docs={"floating_tags": "tags that move (a bare major version such as :3 or :v2 always counts)"},
      rationale="A node that already has a moving tag (:latest, :main, :3) keeps running its cached copy: "
                "pods on different nodes run different code, and a fix pushed under the same tag never "
                "arrives where the image is cached.",
      hint="Pin a version (or a digest), or set imagePullPolicy: Always for a tag that moves on purpose.",
      bad=pod("imagePullPolicy: IfNotPresent\n", image="registry.example.com/shop/web:main"),
      good=pod("imagePullPolicy: IfNotPresent\n"))
def image_pull_policy(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    floating = set(ctx.options["floating_tags"])
    for c in containers(p):
        image, policy = c.obj.get("image"), c.obj.get("imagePullPolicy")
        if not isinstance(image, str) or policy not in ("IfNotPresent", "Never"):
            continue
        _, tag, digest = split_image(image.strip())
        if digest is None and (tag is None or tag in floating or _MAJOR_ONLY.fullmatch(tag)):
            shown = f" :{tag}" if tag else " (no tag, so :latest)"
            yield Hit(res, f"{c.label} pulls the moving tag{shown} with imagePullPolicy {policy}",
                      c.at("imagePullPolicy"), evidence=f"{image}|{policy}")


@rule("duplicate-env", _E, "A container defines the same environment variable twice.", kinds=WORKLOAD_KINDS,
      rationale="Only the last definition takes effect, so the value reviewed may not be the one applied; "
                "server-side apply rejects the duplicate.",
      hint="Remove or merge the duplicate entries.",
      bad=pod("env:\n  - name: MODE\n    value: fast\n  - name: MODE\n    value: safe\n"),
      good=pod("env:\n  - name: MODE\n    value: safe\n"))
def duplicate_env(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    for c in containers(p):
        seen: set[str] = set()
        for i, item in enumerate(as_list(c.obj.get("env"))):
            name = as_dict(item).get("name")
            if not isinstance(name, str):
                continue
            if name in seen:
                yield Hit(res, f"{c.label} defines env {name} more than once", c.at("env", i, "name"),
                          evidence=name)
            seen.add(name)
