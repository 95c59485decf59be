"""gitops-gatekeeper: a policy-as-code validation gate for GitOps repositories."""

__version__ = "0.1.0"
