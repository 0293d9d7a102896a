// Package idsync holds the domain language of idsync: directory users and
// groups as an identity provider reports them (User, Group, Change), the
// workspace accounts idsync wants to exist (Account, GroupAccount), and the
// operations that get a workspace there (Op, Plan, Applied).
//
// The package does no I/O and imports nothing else of this module; every
// other package speaks in these types.
package idsync
