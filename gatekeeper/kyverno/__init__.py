"""Kyverno semantics, offline: policy model and load validation, match/exclude, auto-generated
Pod-controller rules, conditions, patterns with anchors, foreach, podSecurity, context, JMESPath
with Kyverno's function library, PolicyExceptions and ``kyverno test`` files.

The package knows nothing about output formats: it turns (policy, resource) into rule results
(pass / fail / skip / error / unavailable) with the field path where a pattern failed. The
``kyverno`` check (gatekeeper.checks.kyverno) and ``gatekeeper verify`` build on it.
"""
