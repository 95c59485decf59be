package main

import rego.v1

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

deny_privileged contains {"msg": msg, "field": array.concat(path, ["securityContext", "privileged"])} if {
	some [path, c] in containers
	c.securityContext.privileged == true
	msg := sprintf("container \"%v\" runs privileged", [c.name])
}

warn_latest_tag contains {"msg": msg, "field": array.concat(path, ["image"])} if {
	some [path, c] in containers
	not tagged(c.image)
	msg := sprintf("container \"%v\" image \"%v\" has no tag or uses latest; pin a version", [c.name, c.image])
}

tagged(image) if {
	is_string(image)
	not contains(image, "@")
	parts := split(image, "/")
	last := parts[count(parts) - 1]
	contains(last, ":")
	not endswith(last, ":latest")
}

tagged(image) if {
	is_string(image)
	contains(image, "@sha256:")
}

exception contains rules if {
	input.metadata.labels["policy.gatekeeper.dev/allow-privileged"] == "true"
	rules := ["privileged"]
}
