# A conftest-style rule: Services of type LoadBalancer must name the team that pays for them.
package main

import rego.v1

deny contains msg if {
	input.kind == "Service"
	input.spec.type == "LoadBalancer"
	not input.metadata.annotations["example.com/cost-centre"]
	msg := sprintf("Service %s is a LoadBalancer without an example.com/cost-centre annotation", [input.metadata.name])
}
