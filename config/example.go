package config

import _ "embed"

// Example is the annotated configuration of DESIGN.md, valid once its
// environment variables (ACME_GRAPH_SECRET, WHALE_SCIM_TOKEN,
// GLOBEX_OKTA_TOKEN, HOOK_SECRET, INITECH_TOKEN) are set; `idsync config
// example` prints it.
//
//go:embed example.yaml
var Example []byte
