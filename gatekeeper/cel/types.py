"""The Kubernetes CEL object types (Quantity, IP, CIDR, URL, Semver, Format) as protobuf messages.

The engine only converts plain values (null, bool, numbers, strings, bytes, lists, maps,
timestamps, durations) and protobuf messages to and from Python. Kubernetes' library types are
opaque objects with methods, so each is declared as a one-field message in a private descriptor
pool: the type checker sees a distinct type (``quantity("1").isGreaterThan(1)`` does not
type-check, as in Kubernetes) and equality compares the canonical value the field holds
(``quantity("1") == quantity("1000m")``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

PACKAGE = "kubernetes"
TYPES = ("Quantity", "IP", "CIDR", "URL", "Semver", "Format")


@cache
def pool() -> Any:
    """The descriptor pool holding the Kubernetes types (built once per process)."""
    from google.protobuf import descriptor_pb2, descriptor_pool

    proto = descriptor_pb2.FileDescriptorProto(name="gatekeeper_kubernetes_cel.proto", package=PACKAGE,
                                               syntax="proto3")
    for name in TYPES:
        message = proto.message_type.add(name=name)
        message.field.add(name="value", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                          label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    result = descriptor_pool.DescriptorPool()
    result.Add(proto)
    return result


@cache
def message_class(name: str) -> Any:
    """The Python class of a Kubernetes type's message."""
    from google.protobuf import message_factory

    return message_factory.GetMessageClass(pool().FindMessageTypeByName(f"{PACKAGE}.{name}"))


def make(name: str, value: str) -> Any:
    """A message of type ``name`` holding ``value``."""
    return message_class(name)(value=value)


def type_name(value: Any) -> str | None:
    """The Kubernetes type name of a message, or None for any other value."""
    descriptor = getattr(value, "DESCRIPTOR", None)
    full = getattr(descriptor, "full_name", "")
    return full[len(PACKAGE) + 1:] if isinstance(full, str) and full.startswith(PACKAGE + ".") else None
