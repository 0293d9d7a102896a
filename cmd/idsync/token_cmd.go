package main

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/idsync/idsync/state"
)

func tokenCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Bearer tokens of the SCIM listener's push connections (create, list, revoke)",
		Long: `A push connection (source.type: scim) is served at http.listen under
/scim/v2/<connection>/ to the IdP holding one of its bearer tokens. A token
belongs to one connection: it gets 401 on any other. Only its SHA-256 is
stored; 'create' prints the token once.

With the daemon running, create and revoke are carried out by it and count at
once; otherwise they write the state and a daemon started later reads them.`,
	}
	cmd.AddCommand(tokenCreateCmd(g), tokenListCmd(g), tokenRevokeCmd(g))
	return cmd
}

var tokenName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

func tokenCreateCmd(g *globals) *cobra.Command {
	var name, expires string
	cmd := &cobra.Command{
		Use:   "create CONNECTION",
		Short: "Create a token for a push connection and print it (once)",
		Long: `Create a bearer token for the push connection and print it on stdout, alone
(TOKEN=$(idsync token create initech) works). Paste it into the IdP: Entra's
provisioning "Secret Token", Okta's "Bearer" API token. It is not shown again:
lost, it is revoked and another one created.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conn := args[0]
			if name != "" && !tokenName.MatchString(name) {
				return fmt.Errorf("--name %q: use 1 to 64 letters, digits, dots, dashes and underscores", name)
			}
			var exp time.Time
			if expires != "" && expires != "never" {
				d, err := parseExpiry(expires)
				if err != nil {
					return err
				}
				exp = time.Now().Add(d)
			}
			a, err := openWriter(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer a.close()
			if err := a.pushConnection(conn); err != nil {
				return err
			}
			secret, hash, err := newToken()
			if err != nil {
				return err
			}
			t := &state.Token{Connection: conn, Name: name, Hash: hash, Expires: exp}
			err = a.store.Update(cmd.Context(), func(tx *state.Tx) error {
				if t.Name == "" {
					existing, err := tx.Tokens(conn)
					if err != nil {
						return err
					}
					t.Name = nextTokenName(existing)
				}
				return tx.CreateToken(t)
			})
			if errors.Is(err, state.ErrTokenExists) {
				return fmt.Errorf("%s already has a token named %q: revoke it first (idsync token revoke %s %s) or choose another --name", conn, t.Name, conn, t.Name)
			}
			if err != nil {
				return err
			}
			tokensChanged.Add(1)
			fmt.Fprintln(g.stdout, secret)
			until := "never expires"
			if !exp.IsZero() {
				until = "expires " + exp.Local().Format(time.DateTime)
			}
			fmt.Fprintf(g.stderr, "idsync: token %q for %s created (%s); it is shown only this once.\n", t.Name, conn, until)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "name to list and revoke it by (default token-N)")
	cmd.Flags().StringVar(&expires, "expires", "", `lifetime: 90d, 720h, … (default never)`)
	return cmd
}

func tokenListCmd(g *globals) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "list [CONNECTION]",
		Short: "List tokens: name, creation, last use, expiry (never the token)",
		Long: `List the push connections' tokens: name, creation, last use, expiry and
whether revoked. The tokens themselves are not stored and never shown. Last
use is recorded by the daemon every 30 seconds.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openApp(cmd.Context(), g, false)
			if err != nil {
				return err
			}
			defer a.close()
			conn := ""
			if len(args) == 1 {
				conn = args[0]
			}
			var ts []state.Token
			if err := a.store.View(cmd.Context(), func(tx *state.Tx) (err error) { ts, err = tx.Tokens(conn); return err }); err != nil {
				return err
			}
			if output == "json" {
				type row struct {
					Connection string    `json:"connection"`
					Name       string    `json:"name"`
					Created    time.Time `json:"created"`
					LastUsed   time.Time `json:"last_used,omitzero"`
					Expires    time.Time `json:"expires,omitzero"`
					Revoked    time.Time `json:"revoked,omitzero"`
				}
				rows := []row{}
				for _, t := range ts {
					rows = append(rows, row{t.Connection, t.Name, t.Created, t.LastUsed, t.Expires, t.Revoked})
				}
				return writeJSON(g.stdout, map[string]any{"tokens": rows})
			}
			if len(ts) == 0 {
				fmt.Fprintln(g.stdout, "no tokens (idsync token create CONNECTION)")
				return nil
			}
			now := time.Now()
			tw := tabwriter.NewWriter(g.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "CONNECTION\tNAME\tCREATED\tLAST USED\tEXPIRES\tSTATUS")
			for _, t := range ts {
				status := "valid"
				switch {
				case !t.Revoked.IsZero():
					status = "revoked " + t.Revoked.Local().Format(time.DateTime)
				case !t.Valid(now):
					status = "expired"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Connection, t.Name, t.Created.Local().Format(time.DateTime),
					dateOr(t.LastUsed, "never"), dateOr(t.Expires, "never"), status)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "text | json")
	return cmd
}

func tokenRevokeCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "revoke CONNECTION NAME",
		Short: "Revoke a token: the listener refuses it from then on",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, err := openWriter(cmd.Context(), g)
			if err != nil {
				return err
			}
			defer a.close()
			err = a.store.Update(cmd.Context(), func(tx *state.Tx) error { return tx.RevokeToken(args[0], args[1]) })
			if errors.Is(err, state.ErrNoToken) {
				return fmt.Errorf("%s has no token named %q (idsync token list %s shows them)", args[0], args[1], args[0])
			}
			if err != nil {
				return err
			}
			tokensChanged.Add(1)
			fmt.Fprintf(g.stdout, "token %q of %s revoked\n", args[1], args[0])
			return nil
		},
	}
}

// pushConnection checks that name is a push connection of the config.
func (a *app) pushConnection(name string) error {
	for _, c := range a.cfg.Connections {
		if c.Name == name {
			if !c.Push() {
				return fmt.Errorf("%s is a %s connection: tokens are for push connections (source.type: scim)", name, c.Source.Type)
			}
			return nil
		}
	}
	return fmt.Errorf("no connection %q in the config (have: %s)", name, strings.Join(a.names(), ", "))
}

// newToken returns a random bearer token and its hex SHA-256.
func newToken() (secret, hash string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("token: %w", err)
	}
	secret = "idsync_" + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))
	return secret, hex.EncodeToString(sum[:]), nil
}

func nextTokenName(existing []state.Token) string {
	taken := map[string]bool{}
	for _, t := range existing {
		taken[t.Name] = true
	}
	for i := 1; ; i++ {
		if n := "token-" + strconv.Itoa(i); !taken[n] {
			return n
		}
	}
}

// parseExpiry reads "90d" (days) or a Go duration ("720h").
func parseExpiry(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if n, err = strconv.Atoi(days); err == nil {
			d = time.Duration(n) * 24 * time.Hour
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("--expires %q: give a positive lifetime such as 90d or 720h", s)
	}
	return d, nil
}

func dateOr(t time.Time, none string) string {
	if t.IsZero() {
		return none
	}
	return t.Local().Format(time.DateTime)
}
