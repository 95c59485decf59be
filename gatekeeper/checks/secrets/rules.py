"""The secrets check's rules: structural (tier A), token families, keyword + entropy, entropy only."""

from __future__ import annotations

from gatekeeper.model import Rule, Severity

_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO
_FIX = ("Move the value to a Secret that never enters Git in plaintext (Sealed Secrets, SOPS, External "
        "Secrets, a Vault reference) and rotate it: it is in the history now.")
_TOKEN_WHY = "The value has the exact shape of a live provider credential; anyone with read access to " \
             "the repository (and its history) can use it."


def _token(rule_id: str, what: str) -> Rule:
    return Rule(rule_id, "secrets", _E, f"{what} written in plaintext.", _TOKEN_WHY, _FIX)


RULES: dict[str, Rule] = {r.id: r for r in (
    Rule("secret-k8s-secret", "secrets", _E, "A v1 Secret holds a plaintext value in data or stringData.",
         "Secret data is only base64-encoded: committing a Secret commits its credentials.", _FIX,
         bad_example="apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n"
                     "  password: s3cr3t-Pa55w0rd!\n",
         good_example="apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nmetadata:\n  name: db\nspec:\n"
                      "  encryptedData:\n    password: AgB4...\n"),
    Rule("secret-docker-config", "secrets", _E, "A docker config Secret holds registry credentials.",
         "The auth, password or identity token logs anyone in to the registry.", _FIX),
    Rule("secret-env-literal", "secrets", _E,
         "A credential-named env var has a literal value in a pod template.",
         "Pod specs are read by everyone who can read the repository or the workload.",
         "Read the value from a Secret: env[].valueFrom.secretKeyRef (or envFrom.secretRef).",
         bad_example="env:\n  - name: DB_PASSWORD\n    value: s3cr3t-Pa55w0rd!\n",
         good_example="env:\n  - name: DB_PASSWORD\n    valueFrom:\n"
                      "      secretKeyRef: {name: db, key: password}\n"),
    Rule("secret-kubeconfig", "secrets", _E,
         "A kubeconfig holds a token, client key, password or provider secret.",
         "A kubeconfig credential is cluster access.", "Use an exec credential plugin or short-lived tokens; "
         "keep kubeconfigs out of Git."),
    Rule("secret-kustomize-generator", "secrets", _E,
         "A Kustomize secretGenerator holds a credential in a literal or in a file it reads.",
         "Generated Secrets are built from files in the repository, so the credential is in Git.",
         "Generate the Secret from an encrypted source (SOPS with ksops, or an ExternalSecret)."),
    Rule("secret-gcp-service-account", "secrets", _E, "A GCP service-account key file.", _TOKEN_WHY, _FIX),
    _token("secret-private-key", "A PEM private key (RSA, EC, DSA, OpenSSH, PKCS#8, encrypted or not)"),
    _token("secret-aws-access-key", "An AWS access key id"),
    _token("secret-aws-secret-key", "An AWS secret access key"),
    _token("secret-gcp-api-key", "A GCP API key"),
    _token("secret-github-token", "A GitHub token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)"),
    _token("secret-gitlab-token", "A GitLab personal access token"),
    _token("secret-slack-webhook", "A Slack webhook URL"),
    _token("secret-slack-token", "A Slack token"),
    _token("secret-stripe-key", "A Stripe live or restricted key"),
    _token("secret-jwt", "A JSON web token"),
    _token("secret-age-key", "An age secret key"),
    _token("secret-vault-token", "A HashiCorp Vault token"),
    _token("secret-npm-token", "An npm access token"),
    _token("secret-pypi-token", "A PyPI API token"),
    _token("secret-url-password", "A URL with an embedded password"),
    Rule("secret-keyword-entropy", "secrets", _W,
         "A credential-named key holds a random-looking literal "
         "(length >= 12, high entropy, mixed characters).",
         "Config files, ConfigMaps and Helm values are not secret stores.", _FIX),
    Rule("secret-high-entropy", "secrets", _I,
         "A random-looking string under a neutral key (length >= 24, upper and lower case plus digits or "
         "symbols, high entropy).",
         "It may be key material; it may also be an identifier. Review it.",
         "If it is a credential, move it out of Git; otherwise allow it inline with a reason."),
    Rule("secret-weak-placeholder", "secrets", _W,
         "A Secret (or secretGenerator) holds a placeholder-looking value such as 'password' or 'changeme'.",
         "Every literal in a Secret is what the cluster gets: a placeholder nobody replaced is a weak, "
         "well-known credential, and a real password that happens to look like one is still committed.",
         "Generate the value at deploy time (an ExternalSecret, a SealedSecret, a ${VAR} the pipeline fills) "
         "instead of committing a stand-in.",
         bad_example="apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: changeme\n",
         good_example="apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n"
                      "  password: ${DB_PASSWORD}\n"),
    Rule("secret-allow-without-reason", "secrets", _W,
         "A 'gatekeeper:allow' comment without reason=\"...\"; the finding it meant to allow still counts.",
         "Every exception to the secrets gate must say why.", "Add reason=\"...\" to the comment."),
)}
