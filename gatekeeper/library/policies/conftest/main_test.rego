package main

import rego.v1

deployment(container) := {
	"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
	"spec": {"template": {"spec": {"containers": [container]}}},
}

test_privileged_container_denied if {
	some result in deny_privileged with input as deployment({"name": "app", "image": "app:1.0",
		"securityContext": {"privileged": true}})
	result.field == ["spec", "template", "spec", "containers", 0, "securityContext", "privileged"]
}

test_unprivileged_container_allowed if {
	count(deny_privileged) == 0 with input as deployment({"name": "app", "image": "app:1.0"})
}

test_exception_names_privileged if {
	obj := object.union(deployment({"name": "a", "image": "a:1", "securityContext": {"privileged": true}}),
		{"metadata": {"name": "web", "labels": {"policy.gatekeeper.dev/allow-privileged": "true"}}})
	exception == {["privileged"]} with input as obj
}

test_latest_tag_warned if {
	count(warn_latest_tag) == 1 with input as deployment({"name": "app", "image": "registry.example/app:latest"})
}

test_untagged_image_warned if {
	count(warn_latest_tag) == 1 with input as deployment({"name": "app", "image": "registry.example:5000/app"})
}

test_pinned_image_not_warned if {
	count(warn_latest_tag) == 0 with input as deployment({"name": "app", "image": "registry.example:5000/app:1.2"})
	count(warn_latest_tag) == 0 with input as deployment({"name": "app", "image": "app@sha256:0123"})
}

test_cronjob_containers_found if {
	cron := {"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {
		"containers": [{"name": "c", "image": "c", "securityContext": {"privileged": true}}]}}}}}}
	count(deny_privileged) == 1 with input as cron
}
