package scim

import "github.com/idsync/idsync/targets"

// PresetTraits are the traits of a workspace with preset name ("" is
// generic), as New's Client reports them, without opening anything: the
// commands that only read the state plan with them. ok is false for an
// unknown preset.
func PresetTraits(name string) (t targets.Traits, ok bool) {
	if name == "" {
		name = "generic"
	}
	p, ok := presets[name]
	return p.traits, ok
}
