package main

import (
	"fmt"

	"github.com/idsync/idsync/config"
	"github.com/idsync/idsync/targets/scim"
)

// targetPolicyKey is the part of a target block that shapes the accounts a
// connection plans: its type and, for SCIM, the preset and role attribute
// as written. It goes into the engine's policy fingerprint
// (sync.Connection.PolicyKey), so changing either makes the next run
// evaluate every user. Secrets, URLs and tuning never go in.
func targetPolicyKey(b config.Backend) string {
	if b.Type != "scim" {
		return b.Type
	}
	var cfg scim.Config
	if err := b.Decode(&cfg); err != nil {
		return b.Type // openTarget has reported the problem already
	}
	return fmt.Sprintf("scim preset=%q role_attribute=%q", cfg.Preset, cfg.RoleAttribute)
}
