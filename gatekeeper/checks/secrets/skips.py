"""Subtrees the walk never reads: their Kubernetes schema leaves no room for a free-form credential.

Every value of every object passes through the secrets walk, so what it can skip decides its
speed. Skipped wherever they appear: server-written state, and objects made only of names,
enums, numbers and selectors (label values are 63-character names; security contexts,
resources, ports, mounts and scheduling constraints are enums, numbers and names; references
to secrets name a secret rather than hold one). A value that does not fit these types is the
schema check's finding, not a hiding place this check must search.
"""

from __future__ import annotations

SKIP_KEYS = frozenset({"managedFields", "status", "labels", "matchLabels", "matchExpressions", "selector",
                       "securityContext", "resources", "ports", "volumeMounts", "volumeDevices",
                       "topologySpreadConstraints", "tolerations", "affinity", "nodeSelector",
                       "readinessGates", "dnsConfig", "seccompProfile", "capabilities", "envFrom",
                       "configMapKeyRef", "secretKeyRef", "configMapRef", "secretRef", "fieldRef",
                       "resourceFieldRef", "emptyDir", "persistentVolumeClaim", "downwardAPI", "hostPath",
                       "tcpSocket", "grpc", "rollingUpdate", "updateStrategy", "strategy"})
