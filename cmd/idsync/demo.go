package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/sources/entra/entratest"
	"github.com/idsync/idsync/targets/scim/scimtest"
)

const demoToken = "demo-workspace-token"

func demoCmd(g *globals) *cobra.Command {
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Full pull → plan → apply cycle against built-in emulators (no credentials, loopback only)",
		Long: `Start an emulated Entra ID tenant (entratest) and an emulated SCIM workspace
(scimtest, strict like Whimsical: roles editor/viewer, no role = the
workspace default) on 127.0.0.1, write a temporary idsync.yaml, and run
idsync against them: an initial sync, then a handful of changes in the
tenant (a new hire, a promotion to editor, a disabled account, a soft delete,
a permanent delete), a dry-run of the incremental plan, the real sync, and
the resulting workspace; then the daemon with change notifications on and an
hourly schedule, and a change in Entra reaching the workspace within seconds.
Nothing leaves the machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := os.MkdirTemp("", "idsync-demo-")
			if err != nil {
				return err
			}
			if !keep {
				defer os.RemoveAll(dir)
			}
			return demo(cmd, g, dir, keep)
		},
	}
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary config and database (printed at the end)")
	return cmd
}

func demo(cmd *cobra.Command, g *globals, dir string, keep bool) error {
	out := g.stdout
	tenant := entratest.NewServer()
	defer tenant.Close()
	sample := tenant.LoadSample()
	// Whimsical's guide has roles (editor / viewer), so what the demo shows
	// about roles is what the app does. The sample's Whale groups stand in
	// for the tenant's Whimsical ones.
	users, editors := tenant.AddGroup("Whimsical Users", "Everyone who uses Whimsical"), tenant.AddGroup("Whimsical Editors", "Whimsical editors")
	for _, m := range []struct{ group, member string }{
		{users, sample.Groups["Engineering"]}, {users, sample.Groups["Sales"]},
		{users, sample.Users["heidi.hughes@"+entratest.SampleDomain]}, {users, sample.Users["mallory.moore@"+entratest.SampleDomain]},
		{editors, sample.Users["carol.chen@"+entratest.SampleDomain]}, {editors, sample.Users["mallory.moore@"+entratest.SampleDomain]},
	} {
		if err := tenant.AddMember(m.group, m.member); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	ws := scimtest.NewServer(scimtest.Options{Token: demoToken, Preset: "whimsical", Strict: true, TLS: true})
	defer ws.Close()

	path, err := writeConfig(dir, tenant, ws, demoConnection)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "Emulated Entra tenant %s at %s\nEmulated Whimsical workspace at %s\nConfig %s\n\n", tenant.TenantID, tenant.URL, ws.URL, path)
	step := func(title string, args ...string) error {
		fmt.Fprintf(out, "── %s\n$ idsync %s\n", title, strings.Join(args, " "))
		code := run(cmd.Context(), append([]string{"--config", path}, args...), out, g.stderr)
		fmt.Fprintln(out)
		if code != exitOK && code != exitChanges {
			return fmt.Errorf("demo: idsync %s exited %d", strings.Join(args, " "), code)
		}
		return nil
	}
	if err := step("1. First sync: everyone in Whimsical Users (nested groups included) gets an account; editors by group, everyone else the workspace's default role", "sync"); err != nil {
		return err
	}

	u := func(name string) string { return sample.Users[name+"@"+entratest.SampleDomain] }
	fmt.Fprintln(out, "── 2. Meanwhile in Entra:")
	hire := tenant.AddUser(entratest.User{UserPrincipalName: "quinn.quade@" + entratest.SampleDomain, Mail: "quinn.quade@" + entratest.SampleDomain,
		GivenName: "Quinn", Surname: "Quade", DisplayName: "Quinn Quade", AccountEnabled: true, Department: "Engineering", JobTitle: "Software Engineer"})
	changes := []struct {
		what string
		err  error
	}{
		{"new hire quinn.quade joins Engineering", tenant.AddMember(sample.Groups["Engineering"], hire)},
		{"bob.baker is added to Whimsical Editors", tenant.AddMember(editors, u("bob.baker"))},
		{"dave.diaz's account is disabled", tenant.DisableUser(u("dave.diaz"))},
		{"erin.evans is deleted (recycle bin)", tenant.SoftDeleteUser(u("erin.evans"))},
		{"oscar.olsen is permanently deleted", tenant.HardDeleteUser(u("oscar.olsen"))},
	}
	for _, c := range changes {
		if c.err != nil {
			return fmt.Errorf("demo: %s: %w", c.what, c.err)
		}
		fmt.Fprintf(out, "   • %s\n", c.what)
	}
	fmt.Fprintln(out)
	if err := step("3. Preview: the incremental plan (nothing is changed)", "sync", "--dry-run"); err != nil {
		return err
	}
	if err := step("4. Sync: 3 of 11 accounts would lose access, over the 10% safety limit, so the plan is held", "sync"); err != nil {
		return err
	}
	if err := step("5. An admin reviewed the plan and releases it", "approve", "contoso", "--yes"); err != nil {
		return err
	}
	fmt.Fprintln(out, "── 6. The workspace now (viewer: Whimsical's default role, given to people sent without one)")
	printWorkspace(out, ws)
	if err := demoNotify(cmd.Context(), g, dir, tenant, ws, sample); err != nil {
		return err
	}
	if keep {
		fmt.Fprintf(out, "\nKept %s (try: idsync --config %s log)\n", dir, path)
	}
	return nil
}

// demoConnection is the demo's connection: a Whimsical workspace, with
// editors by group and no role for everyone else (the guide: "If the editor
// role is set to undefined, the user will be provisioned with the default
// role enabled in the Whimsical workspace").
const demoConnection = `      scope:
        groups: ["Whimsical Users"]
    roles:
      rules:
        - {group: "Whimsical Editors", role: editor}
    deprovision: {disabled: disable, out_of_scope: disable, soft_deleted: disable, deleted: delete}
    target:
      type: scim
      preset: whimsical
`

// testConnection is the end-to-end tests' connection: the sample tenant's
// Whale groups and reader/writer/admin roles on a generic SCIM workspace
// (Whale itself takes no roles over SCIM).
const testConnection = `      scope:
        groups: ["Whale Users"]
    roles:
      default: reader
      rules:
        - {group: "Whale Admins", role: admin}
        - {group: "Whale Writers", role: writer}
    deprovision: {disabled: disable, out_of_scope: disable, soft_deleted: disable, deleted: delete}
    target:
      type: scim
      preset: generic
`

// writeDemoConfig writes the end-to-end tests' config (testConnection) for
// tenant and ws into dir; targetExtra is appended to the target block
// (indented six spaces).
func writeDemoConfig(dir string, tenant *entratest.Server, ws *scimtest.Server, targetExtra string) (string, error) {
	return writeConfig(dir, tenant, ws, testConnection+targetExtra)
}

// writeConfig writes a config for tenant and ws into dir: conn is the
// connection's scope, roles, deprovision and the start of its target block,
// to which the workspace's url, token and CA are appended.
func writeConfig(dir string, tenant *entratest.Server, ws *scimtest.Server, conn string) (string, error) {
	secret := filepath.Join(dir, "graph-secret")
	token := filepath.Join(dir, "workspace-token")
	if err := os.WriteFile(secret, []byte(tenant.ClientSecret+"\n"), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(token, []byte(demoToken+"\n"), 0o600); err != nil {
		return "", err
	}
	cfg := fmt.Sprintf(`# Written by 'idsync demo': an emulated Entra tenant and SCIM workspace on loopback.
state: %q
log: {level: error}
connections:
  - name: contoso
    source:
      type: entra
      tenant_id: %q
      client_id: %q
      client_secret_file: %q
      graph_url: %q
      authority_url: %q
      ca_file: %q
%s      url: %q
      token_file: %q
      ca_file: %q
`, filepath.Join(dir, "idsync.db"), tenant.TenantID, tenant.ClientID, secret, tenant.GraphURL, tenant.AuthorityURL, tenant.CAFile,
		conn, ws.URL, token, ws.CAFile)
	path := filepath.Join(dir, "idsync.yaml")
	return path, os.WriteFile(path, []byte(cfg), 0o600)
}

func printWorkspace(w io.Writer, ws *scimtest.Server) {
	users := ws.Users()
	slices.SortFunc(users, func(a, b scimtest.User) int { return strings.Compare(a.UserName, b.UserName) })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  userName\tname\tactive\trole")
	for _, u := range users {
		fmt.Fprintf(tw, "  %s\t%s %s\t%v\t%s\n", u.UserName, u.GivenName, u.FamilyName, u.Active, u.Role())
	}
	tw.Flush()
}
