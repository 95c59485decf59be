package main

import rego.v1

# Organisation rules the built-in lint catalogue does not have (it already covers privileged
# containers, image tags, probes, resources and the rest): edit or replace them with your own.

workload_kinds := {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}

pod_spec_path := ["spec"] if input.kind == "Pod"

pod_spec_path := ["spec", "template", "spec"] if input.kind in workload_kinds

pod_spec_path := ["spec", "jobTemplate", "spec", "template", "spec"] if input.kind == "CronJob"

containers contains [path, c] if {
	spec := object.get(input, pod_spec_path, {})
	some group in ["initContainers", "containers"]
	some i, c in spec[group]
	path := array.concat(pod_spec_path, [group, i])
}

# No SSH daemons in containers: debug with ephemeral containers instead.
deny_ssh_port contains {"msg": msg, "field": array.concat(path, ["ports", j, "containerPort"])} if {
	some [path, c] in containers
	some j, port in c.ports
	port.containerPort == 22
	msg := sprintf("container \"%v\" exposes port 22 (SSH); use kubectl debug instead", [c.name])
}

# Wildcard Ingress hosts route every subdomain to one backend.
warn_wildcard_host contains {"msg": msg, "field": ["spec", "rules", i, "host"]} if {
	input.kind == "Ingress"
	some i, rule in input.spec.rules
	is_string(rule.host)
	startswith(rule.host, "*")
	msg := sprintf("Ingress host \"%v\" is a wildcard; list the hosts it serves", [rule.host])
}

exception contains rules if {
	input.metadata.labels["policy.gatekeeper.dev/allow-ssh"] == "true"
	rules := ["ssh_port"]
}
