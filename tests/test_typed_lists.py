"""Typed lists (``RoleList``, ``ConfigMapList``, ``SecretList``: any ``*List`` with ``items``) expand
like ``kind: List``: each item reaches lint, schema, secrets and policy at its own line, and items
that leave apiVersion/kind out (as the API server writes them) take them from the list."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.conftest import run_json

Write = Callable[[str, str], Path]

ROLE_LIST = """
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleList
items:
  - apiVersion: rbac.authorization.k8s.io/v1
    kind: Role
    metadata:
      name: reader
      namespace: shop
    rules:
      - apiGroups: [""]
        resources: [pods]
        verbs: [get, list]
  - metadata:
      name: everything
      namespace: shop
    rules:
      - apiGroups: ["*"]
        resources: ["*"]
        verbs: ["*"]
"""

# The API server leaves the items' apiVersion and kind out of a typed list.
SECRET_LIST = """
        apiVersion: v1
        kind: SecretList
        items:
          - metadata: {name: db}
            stringData:
              password: Xk9#vL2q!Rz7mP4w
        """


def test_a_wildcard_role_inside_a_role_list_is_found_at_its_line(write: Write, tmp_path: Path) -> None:
    write("rbac/roles.yaml", ROLE_LIST)
    code, report = run_json(str(tmp_path), "--checks", "lint,schema")
    wildcard = [(f["rule"], f["line"], f["resource"]["kind"], f["resource"]["name"])
                for f in report["findings"] if f["rule"] == "rbac-wildcard"]
    assert wildcard == [("rbac-wildcard", 18, "Role", "everything"), ("rbac-wildcard", 19, "Role", "everything")]
    assert report["summary"]["resources"] == 2
    assert not [f for f in report["findings"] if f["check"] == "schema"]  # the kind-less item is a valid Role
    assert code == 1


def test_config_map_list_and_secret_list(write: Write, tmp_path: Path) -> None:
    write("cfg.yaml", """
        apiVersion: v1
        kind: ConfigMapList
        items:
          - metadata: {name: a}
            data: {replicas: 3}
        ---""" + SECRET_LIST)
    code, report = run_json(str(tmp_path), "--checks", "schema,secrets")
    found = sorted((f["rule"], f["line"], f["resource"]["kind"]) for f in report["findings"])
    assert found == [("schema-type", 5, "ConfigMap"), ("secret-k8s-secret", 12, "Secret")] and code == 1
    assert "Xk9#vL2q" not in json.dumps(report)


def test_policies_see_typed_list_items_with_secret_values_redacted(write: Write, tmp_path: Path) -> None:
    write("secrets.yaml", SECRET_LIST)
    write("policy/main.rego", """
        package main

        import rego.v1

        deny contains msg if {
          some item in input.items
          some k, v in item.stringData
          msg := sprintf("%s=%s", [k, v])
        }
        """)
    code, report = run_json(str(tmp_path / "secrets.yaml"), "--checks", "policy", "--policy",
                            str(tmp_path / "policy"), "--root", str(tmp_path))
    messages = [f["message"] for f in report["findings"]]
    assert messages == ["password=<redacted: 16 characters>"] and code == 1


def test_a_custom_kind_ending_in_list_without_items_is_one_object(write: Write, tmp_path: Path) -> None:
    write("allow.yaml", "apiVersion: example.com/v1\nkind: IPAllowList\nmetadata: {name: office}\n"
                        "spec:\n  cidrs: [10.0.0.0/8]\n")
    _code, report = run_json(str(tmp_path), "--checks", "schema")
    assert report["summary"]["resources"] == 1
