package main

import rego.v1

deployment(container) := {
	"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
	"spec": {"template": {"spec": {"containers": [container]}}},
}

ingress(host) := {
	"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"},
	"spec": {"rules": [{"host": "shop.example.com"}, {"host": host}]},
}

test_ssh_port_denied if {
	some result in deny_ssh_port with input as deployment({"name": "app", "image": "app:1.0",
		"ports": [{"containerPort": 8080}, {"containerPort": 22}]})
	result.field == ["spec", "template", "spec", "containers", 0, "ports", 1, "containerPort"]
}

test_other_ports_allowed if {
	count(deny_ssh_port) == 0 with input as deployment({"name": "app", "image": "app:1.0",
		"ports": [{"containerPort": 8080}]})
}

test_exception_names_ssh_port if {
	obj := object.union(deployment({"name": "a", "image": "a:1", "ports": [{"containerPort": 22}]}),
		{"metadata": {"name": "web", "labels": {"policy.gatekeeper.dev/allow-ssh": "true"}}})
	exception == {["ssh_port"]} with input as obj
}

test_wildcard_host_warned if {
	some result in warn_wildcard_host with input as ingress("*.example.com")
	result.field == ["spec", "rules", 1, "host"]
}

test_plain_hosts_not_warned if {
	count(warn_wildcard_host) == 0 with input as ingress("blog.example.com")
}

test_cronjob_containers_found if {
	cron := {"kind": "CronJob", "metadata": {"name": "c"}, "spec": {"jobTemplate": {"spec": {"template": {"spec": {
		"containers": [{"name": "c", "image": "c:1", "ports": [{"containerPort": 22}]}]}}}}}}
	count(deny_ssh_port) == 1 with input as cron
}
