package main

import "github.com/idsync/idsync/config"

// limitMemberReads tells a source that can skip group member reads (Okta:
// one call per 1,000 members of every group) which groups the policy needs
// beyond scope.groups: the role rules' groups and groups.include. The
// source adds the scope's groups and the scoped app's group assignments.
func limitMemberReads(src any, cc config.Connection) {
	l, ok := src.(interface{ LimitMemberReads([]string) })
	if !ok {
		return
	}
	groups := []string{}
	for _, r := range cc.Roles.Rules {
		if r.Group != "" {
			groups = append(groups, r.Group)
		}
	}
	l.LimitMemberReads(append(groups, cc.Groups.Include...))
}
