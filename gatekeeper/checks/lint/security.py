"""Pod security rules: privilege, users, root filesystem, host namespaces, capabilities, host access."""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

from gatekeeper.checks.lint.examples import pod
from gatekeeper.checks.lint.pods import WORKLOAD_KINDS, as_dict, as_list, containers, effective, pod_spec
from gatekeeper.checks.lint.registry import Hit, ResourceRule, RuleContext, rule
from gatekeeper.model import Resource, Severity

_E, _W = Severity.ERROR, Severity.WARNING

DANGEROUS_CAPABILITIES = ["ALL", "SYS_ADMIN", "NET_ADMIN", "SYS_PTRACE", "SYS_MODULE", "SYS_RAWIO",
                          "SYS_BOOT", "SYS_TIME", "DAC_READ_SEARCH", "BPF", "PERFMON", "MAC_ADMIN",
                          "MAC_OVERRIDE", "SYSLOG", "NET_BROADCAST"]
SENSITIVE_HOST_PATHS = ["/", "/etc", "/root", "/boot", "/dev", "/proc", "/sys", "/var/run/docker.sock",
                        "/run/docker.sock", "/var/run/containerd", "/run/containerd", "/var/run/crio",
                        "/run/crio", "/var/lib/kubelet", "/var/lib/docker", "/var/lib/containerd"]
SAFE_SYSCTLS = ["kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                "net.ipv4.ip_unprivileged_port_start",
                "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
                "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem", "net.ipv4.tcp_wmem"]


def _cap(name: object) -> str:
    text = str(name).upper()
    return text[4:] if text.startswith("CAP_") else text


@lru_cache(maxsize=32)
def _cap_set(names: tuple[str, ...]) -> frozenset[str]:
    return frozenset(_cap(n) for n in names)


@lru_cache(maxsize=32)
def _allowed_sysctls(extra: tuple[str, ...]) -> frozenset[str]:
    return frozenset(SAFE_SYSCTLS) | frozenset(extra)


@rule("privileged-container", _E, "A container runs privileged.", kinds=WORKLOAD_KINDS,
      rationale="A privileged container has every capability and the host's devices: a compromise of the "
                "container is a compromise of the node.",
      hint="Remove securityContext.privileged (or set it to false); add only the capabilities it needs.",
      bad=pod("securityContext:\n  privileged: true\n"),
      good=pod("securityContext:\n  privileged: false\n"))
def privileged_container(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    for c in containers(p):
        if c.security.get("privileged") is True:
            yield Hit(res, f"{c.label} runs privileged", c.at("securityContext", "privileged"))


@rule("privilege-escalation", _W, "A container does not set allowPrivilegeEscalation: false.",
      kinds=WORKLOAD_KINDS,
      rationale="Without it a process can gain more privileges than its parent (setuid binaries, "
                "file capabilities), undoing every other restriction.",
      hint="Set securityContext.allowPrivilegeEscalation: false on the container.",
      bad=pod(), good=pod("securityContext:\n  allowPrivilegeEscalation: false\n"))
def privilege_escalation(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    for c in containers(p):
        value = c.security.get("allowPrivilegeEscalation")
        if value is False or c.security.get("privileged") is True:  # privileged is reported on its own
            continue
        what = ("sets allowPrivilegeEscalation: true" if value is True
                else "does not set allowPrivilegeEscalation: false")
        yield Hit(res, f"{c.label} {what}", c.at("securityContext", "allowPrivilegeEscalation"))


@rule("run-as-root", _E, "A pod or container runs as user 0 (root).", kinds=WORKLOAD_KINDS,
      rationale="Root in a container is root on the node's kernel; a container escape or a writable host "
                "mount then owns the node.",
      hint="Set runAsUser to a non-zero UID (and runAsNonRoot: true); build the image with a USER.",
      bad=pod(spec="securityContext:\n  runAsUser: 0\n"),
      good=pod(spec="securityContext:\n  runAsUser: 10001\n  runAsNonRoot: true\n"))
def run_as_root(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    if p.security.get("runAsUser") == 0:  # reported even when every container overrides it today
        yield Hit(res, "pod securityContext sets runAsUser 0 (root)", p.at("securityContext", "runAsUser"))
    for c in containers(p):
        if c.security.get("runAsUser") == 0:
            yield Hit(res, f"{c.label} runs as user 0 (root)", c.at("securityContext", "runAsUser"))


@rule("run-as-non-root", _W,
      "A container may run as root: runAsNonRoot is not true and no non-zero runAsUser.",
      kinds=WORKLOAD_KINDS,
      rationale="Without runAsNonRoot the kubelet starts the image's user, which is root for most images.",
      hint="Set securityContext.runAsNonRoot: true (pod or container) and a non-zero runAsUser.",
      bad=pod(), good=pod(spec="securityContext:\n  runAsNonRoot: true\n"))
def run_as_non_root(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    for c in containers(p):
        user = effective(p, c, "runAsUser")
        if effective(p, c, "runAsNonRoot") is True or user == 0:  # user 0 is run-as-root's finding
            continue
        if isinstance(user, int) and not isinstance(user, bool) and user > 0:
            continue
        where = c.at("securityContext", "runAsNonRoot")
        if "runAsNonRoot" not in c.security and "runAsNonRoot" in p.security:
            where = p.at("securityContext", "runAsNonRoot")
        yield Hit(res, f"{c.label} may run as root (runAsNonRoot is not true)", where, evidence=c.name)


@rule("readonly-root-filesystem", _W, "A container's root filesystem is writable.", kinds=WORKLOAD_KINDS,
      rationale="A read-only root filesystem stops an intruder from dropping tools or changing binaries; "
                "writes go to explicit volumes instead.",
      hint="Set securityContext.readOnlyRootFilesystem: true and mount an emptyDir where the app writes.",
      bad=pod(), good=pod("securityContext:\n  readOnlyRootFilesystem: true\n"))
def readonly_root_filesystem(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    for c in containers(p):
        if c.security.get("readOnlyRootFilesystem") is not True:
            yield Hit(res, f"{c.label} does not set readOnlyRootFilesystem: true",
                      c.at("securityContext", "readOnlyRootFilesystem"))


def _host_namespace(key: str, what: str) -> ResourceRule:
    def check(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
        if (p := pod_spec(res)) is not None and p.spec.get(key) is True:
            yield Hit(res, f"pod shares the host's {what} ({key}: true)", p.at(key))
    check.__name__ = f"host_{key}"
    return check


for _key, _id, _what, _why in (
        ("hostNetwork", "host-network", "network namespace",
         "The pod sees every interface of the node and can bind its ports or sniff its traffic; network "
         "policies no longer apply to it."),
        ("hostPID", "host-pid", "process namespace",
         "The pod sees and can signal every process on the node, and read their environment."),
        ("hostIPC", "host-ipc", "IPC namespace",
         "The pod can read and write the shared memory of every process on the node.")):
    rule(_id, _E, f"A pod uses the host's {_what} ({_key}: true).", kinds=WORKLOAD_KINDS, rationale=_why,
         hint=f"Remove {_key} (it defaults to false); expose what the pod needs through a Service or volume.",
         bad=pod(spec=f"{_key}: true\n"), good=pod(spec=f"{_key}: false\n"))(_host_namespace(_key, _what))


@rule("dangerous-capabilities", _E,
      "A container adds a dangerous Linux capability (SYS_ADMIN, NET_ADMIN, ALL...).",
      kinds=WORKLOAD_KINDS, options={"capabilities": DANGEROUS_CAPABILITIES},
      option_docs={"capabilities": "capabilities reported when added"},
      rationale="These capabilities allow mounting filesystems, reconfiguring the network, tracing other "
                "processes or loading kernel modules: most are a short step to the node.",
      hint="Drop ALL capabilities and add back only narrow ones the process needs (e.g. NET_BIND_SERVICE).",
      bad=pod("securityContext:\n  capabilities:\n    add: [SYS_ADMIN]\n"),
      good=pod("securityContext:\n  capabilities:\n    drop: [ALL]\n    add: [NET_BIND_SERVICE]\n"))
def dangerous_capabilities(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    dangerous = _cap_set(tuple(ctx.options["capabilities"]))
    for c in containers(p):
        added = as_dict(c.security.get("capabilities")).get("add")
        if not added:
            continue
        for i, cap in enumerate(as_list(added)):
            if _cap(cap) in dangerous:
                yield Hit(res, f"{c.label} adds capability {cap}",
                          c.at("securityContext", "capabilities", "add", i), evidence=_cap(cap))


@rule("added-capabilities", _W, "A container adds a Linux capability outside the allowed set.",
      kinds=WORKLOAD_KINDS, options={"allowed": ["NET_BIND_SERVICE"]},
      option_docs={"allowed": "capabilities a container may add (Pod Security 'restricted' allows only "
                              "NET_BIND_SERVICE)"},
      rationale="Every added capability widens what a compromised process can do to the kernel and the node; "
                "the Pod Security 'restricted' profile allows adding NET_BIND_SERVICE only. Capabilities in the "
                "default list of dangerous-capabilities are reported by that rule instead.",
      hint="Drop ALL and add back only what the process needs; allow a narrow capability here if it must stay.",
      bad=pod("securityContext:\n  capabilities:\n    drop: [ALL]\n    add: [NET_BIND_SERVICE, CHOWN]\n"),
      good=pod("securityContext:\n  capabilities:\n    drop: [ALL]\n    add: [NET_BIND_SERVICE]\n"))
def added_capabilities(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    allowed = _cap_set(tuple(ctx.options["allowed"])) | _cap_set(tuple(DANGEROUS_CAPABILITIES))
    for c in containers(p):
        for i, cap in enumerate(as_list(as_dict(c.security.get("capabilities")).get("add"))):
            if _cap(cap) not in allowed:  # quoted as written: the report masker recognises it only so
                yield Hit(res, f"{c.label} adds capability {cap}, which is not in the allowed set",
                          c.at("securityContext", "capabilities", "add", i), evidence=_cap(cap))


@rule("net-raw-not-dropped", _W, "A container does not drop NET_RAW (or ALL) capabilities.",
      kinds=WORKLOAD_KINDS,
      rationale="NET_RAW is granted by default and lets a process forge packets and spoof traffic (ARP, DNS) "
                "on the pod network.",
      hint="Add securityContext.capabilities.drop: [ALL] (or at least NET_RAW).",
      bad=pod(), good=pod("securityContext:\n  capabilities:\n    drop: [ALL]\n"))
def net_raw_not_dropped(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    for c in containers(p):
        if c.security.get("privileged") is True:
            continue
        dropped = {_cap(x) for x in as_list(as_dict(c.security.get("capabilities")).get("drop"))}
        if not dropped & {"ALL", "NET_RAW"}:
            yield Hit(res, f"{c.label} does not drop NET_RAW",
                      c.at("securityContext", "capabilities", "drop"))


def _sensitive(path: str, sensitive: list[str]) -> bool:
    norm = "/" + path.strip("/") if path.strip("/") else "/"
    for s in sensitive:
        s = "/" + s.strip("/") if s.strip("/") else "/"
        if norm == s or (s != "/" and norm.startswith(s + "/")):
            return True
    return False


@rule("host-path", _W,
      "A pod mounts a hostPath volume (error for sensitive paths like /, /etc, the docker socket).",
      kinds=WORKLOAD_KINDS, options={"sensitive_paths": SENSITIVE_HOST_PATHS},
      option_docs={"sensitive_paths": "host paths (and everything under them) reported as errors"},
      rationale="A hostPath ties the pod to a node and exposes the node's files; the container runtime's "
                "socket or /etc gives full control of the node.",
      hint="Use a PersistentVolumeClaim, emptyDir, ConfigMap or a CSI driver instead of a hostPath.",
      bad=pod(spec="volumes:\n  - name: docker\n    hostPath:\n      path: /var/run/docker.sock\n"),
      good=pod(spec="volumes:\n  - name: cache\n    emptyDir: {}\n"))
def host_path(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    for i, vol in enumerate(as_list(p.spec.get("volumes"))):
        hp = as_dict(vol).get("hostPath")
        if not isinstance(hp, dict):
            continue
        path = hp.get("path")
        text = path if isinstance(path, str) else "?"
        if isinstance(path, str) and _sensitive(path, ctx.options["sensitive_paths"]):
            yield Hit(res, f"volume '{vol.get('name')}' mounts sensitive host path {text}",
                      p.at("volumes", i, "hostPath"), severity=_E, evidence=text)
        else:
            yield Hit(res, f"volume '{vol.get('name')}' mounts host path {text}",
                      p.at("volumes", i, "hostPath"), evidence=text)


@rule("host-port", _W, "A container binds a port on the node (hostPort).", kinds=WORKLOAD_KINDS,
      rationale="A hostPort limits the pod to one per node, bypasses network policies on some CNIs and "
                "exposes the pod on the node's address.",
      hint="Remove hostPort and expose the port through a Service.",
      bad=pod("ports:\n  - containerPort: 8080\n    hostPort: 8080\n"),
      good=pod("ports:\n  - containerPort: 8080\n"))
def host_port(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    for c in containers(p):
        for j, port in enumerate(as_list(c.obj.get("ports"))):
            if isinstance(port, dict) and port.get("hostPort") not in (None, 0):
                yield Hit(res, f"{c.label} binds host port {port.get('hostPort')}",
                          c.at("ports", j, "hostPort"))


@rule("unsafe-sysctls", _E, "A pod sets a sysctl outside the Kubernetes safe set.", kinds=WORKLOAD_KINDS,
      options={"allowed": []}, option_docs={"allowed": "extra sysctl names to accept"},
      rationale="Unsafe sysctls change kernel settings shared with every pod on the node; kubelets reject "
                "them by default, so the pod never starts.",
      hint="Use only safe sysctls, or allow the sysctl on dedicated nodes and list it in options.allowed.",
      bad=pod(spec="securityContext:\n  sysctls:\n    - name: kernel.msgmax\n      value: \"65536\"\n"),
      good=pod(spec="securityContext:\n  sysctls:\n    - name: net.ipv4.tcp_syncookies\n"
                    "      value: \"1\"\n"))
def unsafe_sysctls(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    sysctls = p.security.get("sysctls")
    if not sysctls:
        return
    allowed = _allowed_sysctls(tuple(ctx.options["allowed"]))
    for i, item in enumerate(as_list(sysctls)):
        name = as_dict(item).get("name")
        if isinstance(name, str) and name not in allowed:
            yield Hit(res, f"sysctl {name} is not in the safe set",
                      p.at("securityContext", "sysctls", i, "name"), evidence=name)


@rule("proc-mount-unmasked", _E, "A container sets procMount: Unmasked.", kinds=WORKLOAD_KINDS,
      rationale="An unmasked /proc exposes kernel interfaces that the runtime otherwise hides.",
      hint="Remove procMount (Default masks /proc).",
      bad=pod("securityContext:\n  procMount: Unmasked\n"),
      good=pod("securityContext:\n  procMount: Default\n"))
def proc_mount_unmasked(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    for c in containers(p):
        if c.security.get("procMount") == "Unmasked":
            yield Hit(res, f"{c.label} mounts /proc unmasked", c.at("securityContext", "procMount"))


@rule("automount-service-account-token", _W, "A pod mounts a service account token it may not need.",
      kinds=WORKLOAD_KINDS, enabled=False,
      rationale="Most applications never call the Kubernetes API; a mounted token is a credential an "
                "intruder can use against it.",
      hint="Set automountServiceAccountToken: false on the pod (or its ServiceAccount) unless it calls "
           "the API.",
      bad=pod(), good=pod(spec="automountServiceAccountToken: false\n"))
def automount_service_account_token(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    value = p.spec.get("automountServiceAccountToken")
    if value is False:
        return
    if value is None:
        sa_name = p.spec.get("serviceAccountName") or p.spec.get("serviceAccount") or "default"
        accounts = ctx.inventory.service_accounts.get(str(sa_name), [])
        if any(sa.obj.get("automountServiceAccountToken") is False for sa in accounts):
            return
    yield Hit(res, "pod mounts a service account token (automountServiceAccountToken is not false)",
              p.at("automountServiceAccountToken"))


@rule("deprecated-service-account", _W, "A pod uses the deprecated serviceAccount field.",
      kinds=WORKLOAD_KINDS,
      rationale="spec.serviceAccount is a deprecated alias of serviceAccountName; tools that read only "
                "the current field see the default account.",
      hint="Rename serviceAccount to serviceAccountName.",
      bad=pod(spec="serviceAccount: web\n"), good=pod(spec="serviceAccountName: web\n"))
def deprecated_service_account(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is not None and "serviceAccount" in p.spec:
        yield Hit(res, "pod uses the deprecated field serviceAccount", p.at("serviceAccount"))


@rule("seccomp-profile", _W, "A container runs without a RuntimeDefault or Localhost seccomp profile.",
      kinds=WORKLOAD_KINDS, enabled=False,
      rationale="Seccomp filters the kernel system calls a container can make; Unconfined (the default "
                "on many clusters) leaves the whole kernel surface open.",
      hint="Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
      bad=pod(), good=pod(spec="securityContext:\n  seccompProfile:\n    type: RuntimeDefault\n"))
def seccomp_profile(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if (p := pod_spec(res)) is None:
        return
    for c in containers(p):
        profile = as_dict(effective(p, c, "seccompProfile"))
        if profile.get("type") in ("RuntimeDefault", "Localhost"):
            continue
        owner = p if "seccompProfile" in p.security and "seccompProfile" not in c.security else c
        what = f"seccomp profile {profile.get('type')}" if profile.get("type") else "no seccomp profile"
        yield Hit(res, f"{c.label} runs with {what}", owner.at("securityContext", "seccompProfile", "type"),
                  evidence=c.name)
