"""Pod Security Standards (baseline and restricted) as the Kubernetes documentation defines the
controls, at a version (``latest`` or ``v1.N``), with Kyverno's ``podSecurity.exclude`` entries.

Each check returns violations naming the control, a reason and a detail in the words Pod Security
Admission uses, and the field path (relative to the Pod) where the forbidden value is written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gatekeeper.kyverno import wildcard
from gatekeeper.kyverno.shape import mapping, sequence
from gatekeeper.model import FieldPath

LATEST_MINOR = 33
BASELINE_CONTROLS = ("HostProcess", "Host Namespaces", "Privileged Containers", "Capabilities",
                     "HostPath Volumes", "Host Ports", "AppArmor", "SELinux", "/proc Mount Type", "Seccomp",
                     "Sysctls")
RESTRICTED_CONTROLS = ("Volume Types", "Privilege Escalation", "Running as Non-root",
                       "Running as Non-root user", "Seccomp", "Capabilities")
CONTROLS = frozenset(BASELINE_CONTROLS + RESTRICTED_CONTROLS)
LEVELS = ("privileged", "baseline", "restricted")

_BASELINE_CAPS = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                            "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})
_SAFE_SYSCTLS = ((0, "kernel.shm_rmid_forced"), (0, "net.ipv4.ip_local_port_range"),
                 (0, "net.ipv4.ip_unprivileged_port_start"), (0, "net.ipv4.tcp_syncookies"),
                 (0, "net.ipv4.ping_group_range"), (27, "net.ipv4.ip_local_reserved_ports"),
                 (29, "net.ipv4.tcp_keepalive_time"), (29, "net.ipv4.tcp_fin_timeout"),
                 (29, "net.ipv4.tcp_keepalive_intvl"), (29, "net.ipv4.tcp_keepalive_probes"))
_RESTRICTED_VOLUMES = frozenset({"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                                 "persistentVolumeClaim", "projected", "secret"})
_SELINUX_TYPES = ("", "container_t", "container_init_t", "container_kvm_t")
_CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
_VERSION = re.compile(r"^v1\.(\d+)$")


@dataclass(frozen=True, slots=True)
class Violation:
    """One forbidden setting: the control, PSA's reason and detail, where, and (containers) the image."""

    control: str
    reason: str
    detail: str
    path: FieldPath
    image: str | None = None
    value: Any = None


def parse_version(version: Any) -> int | None:
    """``latest`` -> newest minor known; ``v1.N`` -> N; None when unreadable."""
    if version in (None, "", "latest"):
        return LATEST_MINOR
    m = _VERSION.match(str(version))
    return int(m.group(1)) if m else None


def _get(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _containers(spec: dict[str, Any]) -> Iterator[tuple[FieldPath, dict[str, Any]]]:
    for field in _CONTAINER_LISTS:
        items = spec.get(field)
        if isinstance(items, list):
            for i, c in enumerate(items):
                if isinstance(c, dict):
                    yield ("spec", field, i), c


def _name(c: dict[str, Any]) -> str:
    return str(c.get("name", ""))


def _image(c: dict[str, Any]) -> str:
    return str(c.get("image", ""))


def check(meta: dict[str, Any], spec: dict[str, Any], level: str, minor: int) -> list[Violation]:
    """Every violation of the level's controls at the version, for a Pod's metadata and spec."""
    if level == "privileged":
        return []
    found = list(_baseline(meta, spec, minor))
    if level == "restricted":
        found.extend(_restricted(spec, minor))
    return found


def _baseline(meta: dict[str, Any], spec: dict[str, Any], minor: int) -> Iterator[Violation]:
    pod_sc = mapping(spec.get("securityContext"))
    if _get(pod_sc, "windowsOptions", "hostProcess") is True:
        yield Violation("HostProcess", "hostProcess", "pod must not set securityContext.windowsOptions."
                        "hostProcess=true", ("spec", "securityContext", "windowsOptions", "hostProcess"), None, True)
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(field) is True:
            yield Violation("Host Namespaces", "host namespaces", f"{field}=true", ("spec", field), None, True)
    for i, vol in enumerate(spec.get("volumes") or []):
        if isinstance(vol, dict) and vol.get("hostPath") is not None:
            yield Violation("HostPath Volumes", "hostPath volumes", f"volume {vol.get('name', '')!r} uses hostPath",
                            ("spec", "volumes", i, "hostPath"))
    for key, value in (_get(meta, "annotations") or {}).items():
        if str(key).startswith("container.apparmor.security.beta.kubernetes.io/"):
            text = str(value)
            if text and text != "runtime/default" and not text.startswith("localhost/"):
                yield Violation("AppArmor", "forbidden AppArmor profile", f"annotation {key}={text}",
                                ("metadata", "annotations", key), None, text)
    if minor >= 30:
        ptype = _get(pod_sc, "appArmorProfile", "type")
        if ptype is not None and ptype not in ("RuntimeDefault", "Localhost"):
            yield Violation("AppArmor", "forbidden AppArmor profile", f"pod appArmorProfile.type={ptype}",
                            ("spec", "securityContext", "appArmorProfile", "type"), None, ptype)
    yield from _selinux(pod_sc, ("spec", "securityContext"), "pod", None, minor)
    if minor >= 19:
        stype = _get(pod_sc, "seccompProfile", "type")
        if stype == "Unconfined":
            yield Violation("Seccomp", "seccompProfile", "pod must not set securityContext.seccompProfile.type to "
                            "\"Unconfined\"", ("spec", "securityContext", "seccompProfile", "type"), None, stype)
    allowed = {name for since, name in _SAFE_SYSCTLS if minor >= since}
    for i, sysctl in enumerate(pod_sc.get("sysctls") or []):
        name = sysctl.get("name") if isinstance(sysctl, dict) else None
        if name not in allowed:
            yield Violation("Sysctls", "forbidden sysctls", f"{name}",
                            ("spec", "securityContext", "sysctls", i, "name"), None, name)
    for path, c in _containers(spec):
        yield from _baseline_container(path, c, minor)


def _baseline_container(path: FieldPath, c: dict[str, Any], minor: int) -> Iterator[Violation]:
    sc = mapping(c.get("securityContext"))
    who, img = f"container {_name(c)!r}", _image(c)
    scp = (*path, "securityContext")
    if _get(sc, "windowsOptions", "hostProcess") is True:
        yield Violation("HostProcess", "hostProcess", f"{who} must not set securityContext.windowsOptions."
                        "hostProcess=true", (*scp, "windowsOptions", "hostProcess"), img, True)
    if sc.get("privileged") is True:
        yield Violation("Privileged Containers", "privileged", f"{who} must not set securityContext.privileged=true",
                        (*scp, "privileged"), img, True)
    added = _get(sc, "capabilities", "add")
    for i, cap in enumerate(added if isinstance(added, list) else []):
        if cap not in _BASELINE_CAPS:
            yield Violation("Capabilities", "non-default capabilities", f"{who} must not include {cap!r} in "
                            "securityContext.capabilities.add", (*scp, "capabilities", "add", i), img, cap)
    for i, port in enumerate(c.get("ports") or []):
        if isinstance(port, dict) and port.get("hostPort") not in (None, 0):
            yield Violation("Host Ports", "hostPort", f"{who} uses hostPort {port.get('hostPort')}",
                            (*path, "ports", i, "hostPort"), img, port.get("hostPort"))
    if minor >= 30:
        ptype = _get(sc, "appArmorProfile", "type")
        if ptype is not None and ptype not in ("RuntimeDefault", "Localhost"):
            yield Violation("AppArmor", "forbidden AppArmor profile", f"{who} appArmorProfile.type={ptype}",
                            (*scp, "appArmorProfile", "type"), img, ptype)
    yield from _selinux(sc, scp, who, img, minor)
    proc = sc.get("procMount")
    if proc not in (None, "Default"):
        yield Violation("/proc Mount Type", "procMount", f"{who} must not set securityContext.procMount={proc}",
                        (*scp, "procMount"), img, proc)
    if minor >= 19 and _get(sc, "seccompProfile", "type") == "Unconfined":
        yield Violation("Seccomp", "seccompProfile", f"{who} must not set securityContext.seccompProfile.type to "
                        "\"Unconfined\"", (*scp, "seccompProfile", "type"), img, "Unconfined")


def _selinux(sc: dict[str, Any], base: FieldPath, who: str, img: str | None, minor: int) -> Iterator[Violation]:
    opts = sc.get("seLinuxOptions")
    if not isinstance(opts, dict):
        return
    allowed = (*_SELINUX_TYPES, "container_engine_t") if minor >= 31 else _SELINUX_TYPES
    if opts.get("type") not in (None, *allowed):
        yield Violation("SELinux", "seLinuxOptions", f"{who} must not set seLinuxOptions.type={opts.get('type')}",
                        (*base, "seLinuxOptions", "type"), img, opts.get("type"))
    for key in ("user", "role"):
        if opts.get(key) not in (None, ""):
            yield Violation("SELinux", "seLinuxOptions", f"{who} must not set seLinuxOptions.{key}",
                            (*base, "seLinuxOptions", key), img, opts.get(key))


def _restricted(spec: dict[str, Any], minor: int) -> Iterator[Violation]:
    pod_sc = mapping(spec.get("securityContext"))
    windows = minor >= 25 and _get(spec, "os", "name") == "windows"
    for i, vol in enumerate(spec.get("volumes") or []):
        if not isinstance(vol, dict):
            continue
        kinds = [k for k in vol if k != "name"]
        bad = [k for k in kinds if k not in _RESTRICTED_VOLUMES]
        if bad:
            yield Violation("Volume Types", "restricted volume types", f"volume {vol.get('name', '')!r} uses "
                            f"{', '.join(bad)}", ("spec", "volumes", i, bad[0]), None, bad[0])
    pod_nonroot = pod_sc.get("runAsNonRoot")
    if pod_nonroot is False:
        yield Violation("Running as Non-root", "runAsNonRoot != true", "pod must not set securityContext."
                        "runAsNonRoot=false", ("spec", "securityContext", "runAsNonRoot"), None, False)
    if minor >= 23 and pod_sc.get("runAsUser") == 0:
        yield Violation("Running as Non-root user", "runAsUser=0", "pod must not set runAsUser=0",
                        ("spec", "securityContext", "runAsUser"), None, 0)
    pod_seccomp = _get(pod_sc, "seccompProfile", "type")
    for path, c in _containers(spec):
        sc = mapping(c.get("securityContext"))
        who, img = f"container {_name(c)!r}", _image(c)
        scp = (*path, "securityContext")
        if minor >= 8 and not windows and sc.get("allowPrivilegeEscalation") is not False:
            yield Violation("Privilege Escalation", "allowPrivilegeEscalation != false",
                            f"{who} must set securityContext.allowPrivilegeEscalation=false",
                            (*scp, "allowPrivilegeEscalation"), img, sc.get("allowPrivilegeEscalation"))
        nonroot = sc.get("runAsNonRoot")
        if nonroot is False or (nonroot is None and pod_nonroot is not True):
            yield Violation("Running as Non-root", "runAsNonRoot != true", f"pod or {who} must set "
                            "securityContext.runAsNonRoot=true", (*scp, "runAsNonRoot"), img, nonroot)
        if minor >= 23 and sc.get("runAsUser") == 0:
            yield Violation("Running as Non-root user", "runAsUser=0", f"{who} must not set runAsUser=0",
                            (*scp, "runAsUser"), img, 0)
        if minor >= 19 and not windows:
            stype = _get(sc, "seccompProfile", "type")
            if stype is None and pod_seccomp not in ("RuntimeDefault", "Localhost"):
                yield Violation("Seccomp", "seccompProfile", f"pod or {who} must set securityContext.seccompProfile."
                                "type to \"RuntimeDefault\" or \"Localhost\"", (*scp, "seccompProfile", "type"), img)
            elif stype is not None and stype not in ("RuntimeDefault", "Localhost", "Unconfined"):
                yield Violation("Seccomp", "seccompProfile", f"{who} must set securityContext.seccompProfile.type "
                                "to \"RuntimeDefault\" or \"Localhost\"", (*scp, "seccompProfile", "type"), img, stype)
        if minor >= 22 and not windows:
            caps = mapping(sc.get("capabilities"))
            drop = sequence(caps.get("drop"))
            if "ALL" not in drop:
                yield Violation("Capabilities", "unrestricted capabilities", f"{who} must set securityContext."
                                "capabilities.drop=[\"ALL\"]", (*scp, "capabilities", "drop"), img)
            added = sequence(caps.get("add"))
            for i, cap in enumerate(added):
                if cap != "NET_BIND_SERVICE":
                    yield Violation("Capabilities", "unrestricted capabilities", f"{who} must not include {cap!r} "
                                    "in securityContext.capabilities.add", (*scp, "capabilities", "add", i), img, cap)
    if minor >= 19 and not windows and pod_seccomp is not None and pod_seccomp not in ("RuntimeDefault", "Localhost",
                                                                                      "Unconfined"):
        yield Violation("Seccomp", "seccompProfile", "pod must set securityContext.seccompProfile.type to "
                        "\"RuntimeDefault\" or \"Localhost\"", ("spec", "securityContext", "seccompProfile", "type"),
                        None, pod_seccomp)


def _field_text(path: FieldPath) -> str:
    """``spec.containers[*].securityContext.privileged`` (indexes as ``[*]``) for restrictedField."""
    out = ""
    for part in path:
        out += "[*]" if isinstance(part, int) else ("." if out else "") + part
    return out


def excluded(v: Violation, excludes: list[dict[str, Any]]) -> bool:
    """True when an exclude entry exempts this violation (container-level ones need ``images``)."""
    for entry in excludes:
        if entry.get("controlName") != v.control:
            continue
        images = entry.get("images") or []
        if v.image is None:
            if images:
                continue
        elif not any(wildcard.match(str(p), v.image) for p in images):
            continue
        field = entry.get("restrictedField")
        if field:
            if not wildcard.match(str(field), _field_text(v.path)):
                continue
            values = entry.get("values")
            if values and str(v.value) not in [str(x) for x in values]:
                continue
        return True
    return False


def message(level: str, version: str, violations: list[Violation]) -> str:
    """Kyverno's wording: which profile was violated and the PSA reason and detail of each control."""
    parts = " ".join(f"({{Allowed:false ForbiddenReason:{v.reason} ForbiddenDetail:{v.detail}}})" for v in violations)
    return f"It violates PodSecurity \"{level}:{version}\": {parts}"
