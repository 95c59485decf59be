"""Repository hygiene: objects defined twice, namespaced objects without a namespace."""

from __future__ import annotations

from collections.abc import Iterator

from gatekeeper.checks.lint.examples import doc
from gatekeeper.checks.lint.inventory import Inventory
from gatekeeper.checks.lint.registry import Hit, RuleContext, rule
from gatekeeper.model import Resource, Severity

_E, _W = Severity.ERROR, Severity.WARNING
# Built-in kinds that are not namespaced (a CRD in the scanned set adds its own).
CLUSTER_SCOPED = frozenset({
    "Namespace", "Node", "PersistentVolume", "ClusterRole", "ClusterRoleBinding", "StorageClass",
    "CustomResourceDefinition", "PriorityClass", "IngressClass", "RuntimeClass", "CSIDriver", "CSINode",
    "VolumeAttachment", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
    "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "MutatingAdmissionPolicy",
    "MutatingAdmissionPolicyBinding", "APIService", "PodSecurityPolicy", "CertificateSigningRequest",
    "FlowSchema", "PriorityLevelConfiguration", "ComponentStatus", "ClusterIssuer", "ClusterSecretStore",
    "ClusterPolicy", "ConstraintTemplate", "DeviceClass", "IPAddress", "ServiceCIDR",
    "StorageVersionMigration", "VolumeAttributesClass", "SelfSubjectReview", "TokenReview",
    "SubjectAccessReview",
    "SelfSubjectAccessReview", "SelfSubjectRulesReview", "ClusterTrustBundle",
})
_CM = doc("""
    apiVersion: v1
    kind: ConfigMap
    metadata:
      name: {name}
      namespace: shop
    data:
      mode: fast
    """)


@rule("duplicate-object", _E, "The same object (group, kind, namespace, name) is defined twice.", cross=True,
      options={"scope": "directory"}, choices={"scope": ("directory", "all")},
      option_docs={"scope": "'directory': compare objects in the same directory (one kustomization or "
                            "Argo CD app); 'all': across the whole scanned set"},
      rationale="Only one definition can win when both are applied; which one depends on file order, so "
                "the reviewed change may not be the one deployed.",
      hint="Remove one of the definitions, or rename one of the objects.",
      bad=_CM.format(name="web") + "---\n" + _CM.format(name="web"),
      good=_CM.format(name="web") + "---\n" + _CM.format(name="web-extra"))
def duplicate_object(inv: Inventory, ctx: RuleContext) -> Iterator[Hit]:
    whole_set = ctx.options["scope"] == "all"
    first: dict[tuple[str, ...], Resource] = {}
    for res in inv.resources:
        name = res.name
        if not name:
            continue
        # a rendered object is compared with what its own unit applies (overlays of one base are
        # separate applies); files checked as they are, by directory or across the whole set
        where = "" if whole_set else res.document.path.rpartition("/")[0]
        key = (res.unit or "", "" if res.unit else where, res.api_version.rpartition("/")[0], res.kind,
               res.namespace or "", name)
        seen = first.setdefault(key, res)
        if seen is res:
            continue
        yield Hit(res, f"{res.kind} {res.ref.key} is already defined in {seen.path}:{seen.line}",
                  ("metadata", "name"), evidence=f"{seen.path}#{seen.document.index}")


@rule("namespace-required", _W, "A namespaced object has no metadata.namespace.", enabled=False,
      options={"exempt_kinds": []}, option_docs={"exempt_kinds": "kinds never reported"},
      rationale="An object without a namespace lands in whatever namespace the applier defaults to, which "
                "differs between kubectl contexts, Argo CD applications and Flux kustomizations.",
      hint="Set metadata.namespace (or let kustomize set it with 'namespace:' and scan the rendered output).",
      bad=_CM.format(name="web").replace("  namespace: shop\n", ""), good=_CM.format(name="web"))
def namespace_required(res: Resource, ctx: RuleContext) -> Iterator[Hit]:
    if res.namespace or res.kind in CLUSTER_SCOPED or res.kind in ctx.options["exempt_kinds"]:
        return
    if res.kind in ctx.inventory.cluster_scoped_custom_kinds:
        return
    yield Hit(res, f"{res.kind} {res.name} has no namespace", ("metadata", "namespace"))
