package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/schemadsl/compiler"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/schema"
	"github.com/seed-6461fa00/trellis/server"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	app := newApp()
	var out bytes.Buffer
	app.Writer = &out
	app.ErrWriter = &out
	err := app.Run(t.Context(), append([]string{"trellis"}, args...))
	return out.String(), err
}

func TestSchemaCommands(t *testing.T) {
	out, err := run(t, "schema", "print")
	if err != nil || !strings.Contains(out, "definition project") {
		t.Fatalf("schema print: %v\n%s", err, out)
	}
	out, err = run(t, "schema", "validate", "../../schema/trellis.validation.yaml")
	if err != nil || !strings.Contains(out, "assertions hold") {
		t.Fatalf("validating the shipped validation file: %v\n%s", err, out)
	}
	out, err = run(t, "schema", "validate", "../../schema/schema.zed")
	if err != nil || !strings.Contains(out, "valid") {
		t.Fatalf("validating the shipped schema: %v\n%s", err, out)
	}

	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.zed")
	for name, c := range map[string]struct{ text, line string }{
		"an undefined type":     {"definition user {}\n\ndefinition doc {\n\trelation owner: usr\n}\n", "line 4"},
		"an undefined relation": {"definition user {}\n\ndefinition doc {\n\trelation owner: user\n\tpermission read = owner + viewer\n}\n", "line 5"},
	} {
		if err := os.WriteFile(broken, []byte(c.text), 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := run(t, "schema", "validate", broken); err == nil || !strings.Contains(out, c.line) {
			t.Fatalf("a schema naming %s: %v\n%s", name, err, out)
		}
	}
	wrong := filepath.Join(dir, "wrong.yaml")
	if err := os.WriteFile(wrong, []byte("schemaFile: schema.zed\nrelationships: |-\n  project:p#reader@user:rita\nassertions:\n  assertTrue:\n    - \"project:p#write@user:rita\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "schema.zed"), []byte(mustRead(t, "../../schema/schema.zed")), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "schema", "validate", wrong)
	if err == nil || !strings.Contains(out, "line 6") {
		t.Fatalf("a failing assertion: %v\n%s", err, out)
	}
}

// TestSchemaDiffCommand: files against files or this binary's schema, and
// a data directory's stored schema against this binary's, which reading
// leaves as it was.
func TestSchemaDiffCommand(t *testing.T) {
	dir := t.TempDir()
	older := strings.Replace(schema.Text, "permission delete = admin\n\tpermission manage_admins", "permission manage_admins", 1)
	if older == schema.Text {
		t.Fatal("the schema no longer has the permission this test removes")
	}
	olderPath := filepath.Join(dir, "older.zed")
	if err := os.WriteFile(olderPath, []byte(older), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "schema", "diff", olderPath)
	if err != nil || !strings.Contains(out, "+ permission project#delete") {
		t.Fatalf("a file against this binary: %q, %v", out, err)
	}
	out, err = run(t, "schema", "diff", "../../schema/schema.zed", olderPath)
	if err != nil || !strings.Contains(out, "- permission project#delete") {
		t.Fatalf("two files: %q, %v", out, err)
	}

	// A store holding the older schema as an older Trellis left it: only
	// per-definition namespaces, no unified schema.
	data := t.TempDir()
	ds, err := badgerds.New(t.Context(), filepath.Join(data, server.RelationsDir))
	if err != nil {
		t.Fatal(err)
	}
	compiled, err := compiler.Compile(compiler.InputSchema{Source: "older.zed", SchemaString: older}, compiler.AllowUnprefixedObjectType())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ds.ReadWriteTx(t.Context(), func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
		return rwt.LegacyWriteNamespaces(ctx, compiled.ObjectDefinitions...)
	}); err != nil {
		t.Fatal(err)
	}
	if err := ds.Close(); err != nil {
		t.Fatal(err)
	}
	first := ""
	for range 2 { // the first run must not have upgraded the store
		out, err = run(t, "schema", "diff", "--data", data)
		if err != nil || !strings.Contains(out, "+ permission project#delete") || (first != "" && out != first) {
			t.Fatalf("the stored schema against this binary: %q (first run: %q), %v", out, first, err)
		}
		first = out
	}
	// Tools that read leave the stored schema as they found it.
	if _, err := run(t, "export", "--data", data, "--out", filepath.Join(dir, "export.jsonl")); err != nil {
		t.Fatal(err)
	}
	if out, err = run(t, "schema", "diff", "--data", data); err != nil || out != first {
		t.Fatalf("after an export: %q, %v; want the stored schema unchanged", out, err)
	}
	if err := withStack(t.Context(), data, false, func(*server.Stack) error { return nil }); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "schema", "diff", "--data", data)
	if err != nil || !strings.HasPrefix(out, "no changes") {
		t.Fatalf("after Trellis opened the store: %q, %v", out, err)
	}
	if _, err := run(t, "schema", "diff", "--data", filepath.Join(dir, "nowhere")); err == nil || !strings.Contains(err.Error(), "no Trellis data") {
		t.Fatalf("a directory without data: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nowhere")); err == nil {
		t.Fatal("diff created the data directory it was asked to read")
	}
}

func TestVersion(t *testing.T) {
	out, err := run(t, "version")
	if err != nil || !strings.Contains(out, "spicedb v1.56.2") {
		t.Fatalf("version: %v\n%s", err, out)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestExportImportCommands: export a data directory to a file, import it
// into an empty one, export again: the same content.
func TestExportImportCommands(t *testing.T) {
	src, dst := t.TempDir(), t.TempDir()
	base, stop := startServe(t, src)
	alice := devToken(t, base, "alice")
	graphql(t, base, alice, `mutation { createProject(input: {name: "atlas", displayName: "Atlas"}) { consistencyToken } }`)
	graphql(t, base, alice, `mutation { registerArtifact(input: {project: "atlas", kind: IMAGE, id: "atlas-base"}) { consistencyToken } }`)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	first := filepath.Join(t.TempDir(), "first.jsonl")
	if _, err := run(t, "export", "--data", src, "--out", first); err != nil {
		t.Fatal(err)
	}
	out, err := run(t, "import", "--data", dst, first)
	if err != nil || !strings.Contains(out, "imported") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	second := filepath.Join(t.TempDir(), "second.jsonl")
	if _, err := run(t, "export", "--data", dst, "--out", second); err != nil {
		t.Fatal(err)
	}
	a, b := exportBody(t, first), exportBody(t, second)
	if a != b {
		t.Fatalf("round trip changed the export:\n%s\n---\n%s", a, b)
	}
	if !strings.Contains(a, `"relationship":"image:atlas-base#project@project:atlas"`) || !strings.Contains(a, `"DisplayName":"Atlas"`) {
		t.Fatalf("export lacks the project or its artifact:\n%s", a)
	}
	if _, err := run(t, "import", "--data", dst, first); err == nil {
		t.Fatal("imported into a non-empty directory")
	}

	// A mistyped directory is an error, not an empty graph, and leaves
	// both the directory uncreated and an earlier export in place.
	nowhere := filepath.Join(t.TempDir(), "nowhere")
	before := mustRead(t, second)
	for _, args := range [][]string{
		{"export", "--data", nowhere, "--out", second},
		{"check", "--data", nowhere, "job:o-1", "read", "user:bob"},
		{"lookup", "resources", "--data", nowhere, "project", "read", "user:bob"},
	} {
		if _, err := run(t, args...); err == nil || !strings.Contains(err.Error(), "no Trellis data") {
			t.Errorf("%s on a directory that does not exist: %v", args[0], err)
		}
	}
	if _, err := os.Stat(nowhere); err == nil {
		t.Error("a command that only reads created the data directory")
	}
	if mustRead(t, second) != before {
		t.Error("a failed export changed the file it was to replace")
	}
}

// exportBody is an export without its revision header, lines sorted.
func exportBody(t *testing.T, path string) string {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(mustRead(t, path)), "\n")
	body := lines[1:]
	sort.Strings(body)
	return strings.Join(body, "\n")
}

// TestCheckAndLookupCommands asks a data directory, and a running
// server's gRPC API, the same questions.
func TestCheckAndLookupCommands(t *testing.T) {
	data := t.TempDir()
	base, stop := startServe(t, data)
	alice := devToken(t, base, "alice")
	graphql(t, base, alice, `mutation { createProject(input: {name: "orion"}) { consistencyToken } }`)
	graphql(t, base, alice, `mutation { addMember(input: {project: "orion", user: "bob", role: READER}) { consistencyToken } }`)
	graphql(t, base, alice, `mutation { registerArtifact(input: {project: "orion", kind: JOB, id: "o-1"}) { consistencyToken } }`)
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for args, want := range map[string]string{
		"check job:o-1 read_logs user:bob":          "yes",
		"check job:o-1 terminate user:bob":          "no",
		"lookup resources project read user:bob":    "project:orion",
		"lookup subjects project:orion write user":  "user:alice",
		"lookup resources project read user:nobody": "",
	} {
		fields := strings.Fields(args)
		cmdArgs := append(fields[:1:1], append([]string{}, fields[1:]...)...)
		if fields[0] == "lookup" {
			cmdArgs = append([]string{"lookup", fields[1], "--data", data}, fields[2:]...)
		} else {
			cmdArgs = append([]string{"check", "--data", data}, fields[1:]...)
		}
		out, err := run(t, cmdArgs...)
		if err != nil {
			t.Fatalf("%s: %v", args, err)
		}
		if strings.TrimSpace(out) != want {
			t.Errorf("%s = %q, want %q", args, strings.TrimSpace(out), want)
		}
	}
	if _, err := run(t, "check", "--data", data, "project:orion", "read", "user:bob@example.com"); err == nil || !strings.Contains(err.Error(), "user:=Ym9iQGV4YW1wbGUuY29t") {
		t.Errorf("a token subject in place of a user ID: %v; want the ID it signs in as", err)
	}
	if _, err := run(t, "check", "--data", data, "job", "read", "user:bob"); err == nil {
		t.Error("a resource without an ID was accepted")
	}
}

// TestCheckAgainstRunningServer asks a running server over its SpiceDB
// gRPC API, with and without the right key.
func TestCheckAgainstRunningServer(t *testing.T) {
	grpcAddr := startWithGRPC(t, "", "")
	out, err := run(t, "check", "--endpoint", grpcAddr, "--insecure", "--token", "service-key", "project:nova", "delete", "user:alice")
	if err != nil || strings.TrimSpace(out) != "yes" {
		t.Fatalf("check over gRPC: %q, %v", out, err)
	}
	if _, err := run(t, "check", "--endpoint", grpcAddr, "--insecure", "--token", "wrong-key", "project:nova", "delete", "user:alice"); err == nil {
		t.Fatal("a wrong key was accepted")
	}
	if _, err := run(t, "check", "--endpoint", grpcAddr, "--token", "service-key", "project:nova", "delete", "user:alice"); err == nil || !strings.Contains(err.Error(), "pass --insecure") {
		t.Fatalf("without --insecure, a server without TLS: %v; want a refusal that points to --insecure", err)
	}
	out, err = run(t, "schema", "diff", "--endpoint", grpcAddr, "--insecure", "--token", "service-key")
	if err != nil || !strings.HasPrefix(out, "no changes from the schema at "+grpcAddr) {
		t.Fatalf("schema diff against the running server: %q, %v", out, err)
	}
}

// TestCheckOverTLS: a server serving gRPC over TLS is reached with its
// authority in --ca-file, and refused when its certificate cannot be
// verified or when TLS is turned off.
func TestCheckOverTLS(t *testing.T) {
	certFile, keyFile, _ := relationstest.SelfSignedCert(t)
	grpcAddr := startWithGRPC(t, certFile, keyFile)

	out, err := run(t, "check", "--endpoint", grpcAddr, "--ca-file", certFile, "--token", "service-key", "project:nova", "delete", "user:alice")
	if err != nil || strings.TrimSpace(out) != "yes" {
		t.Fatalf("check over TLS: %q, %v", out, err)
	}
	if _, err := run(t, "check", "--endpoint", grpcAddr, "--token", "service-key", "project:nova", "delete", "user:alice"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a certificate no system authority signed was accepted, or refused for another reason: %v", err)
	}
	if _, err := run(t, "check", "--endpoint", grpcAddr, "--insecure", "--token", "service-key", "project:nova", "delete", "user:alice"); err == nil {
		t.Fatal("plaintext reached a TLS listener")
	}
	if _, err := run(t, "check", "--endpoint", grpcAddr, "--insecure", "--ca-file", certFile, "--token", "service-key", "project:nova", "delete", "user:alice"); err == nil || !strings.Contains(err.Error(), "choose one") {
		t.Fatalf("--insecure with --ca-file: %v, want them refused together", err)
	}
}

// startWithGRPC serves a data directory in which alice created project
// nova, with SpiceDB's gRPC API on a loopback port (over TLS when given a
// certificate) that accepts the key "service-key"; it stops with the test.
func startWithGRPC(t *testing.T, certFile, keyFile string) (grpcAddr string) {
	t.Helper()
	data := t.TempDir()
	keysFile := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keysFile, []byte("first-key\nservice-key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	grpcAddr = ln.Addr().String()
	_ = ln.Close()

	ctx, cancel := context.WithCancel(context.Background())
	baseCh, errc := make(chan string, 1), make(chan error, 1)
	go func() {
		errc <- serve(ctx, serveConfig{
			addr: "127.0.0.1:0", data: data, dev: true, userClaim: "sub",
			grpcAddr: grpcAddr, grpcKeyFile: keysFile, grpcCert: certFile, grpcKey: keyFile,
			listening: func(base string) { baseCh <- base },
		})
	}()
	var base string
	select {
	case base = <-baseCh:
	case err := <-errc:
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	alice := devToken(t, base, "alice")
	graphql(t, base, alice, `mutation { createProject(input: {name: "nova"}) { consistencyToken } }`)
	return grpcAddr
}

// TestExportOutputKinds: --out replaces a file keeping its mode, follows a
// link to the file it names, and writes to what is not a file (a pipe) as
// it is.
func TestExportOutputKinds(t *testing.T) {
	data := t.TempDir()
	if err := withStack(t.Context(), data, false, func(*server.Stack) error { return nil }); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared.jsonl")
	if err := os.WriteFile(shared, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "latest.jsonl")
	if err := os.Symlink(shared, link); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, "export", "--data", data, "--out", link); err != nil {
		t.Fatal(err)
	}
	if target, err := os.Readlink(link); err != nil || target != shared {
		t.Errorf("the link now names %q (%v), want %q", target, err, shared)
	}
	info, err := os.Stat(shared)
	if err != nil || info.Mode().Perm() != 0o640 || !strings.Contains(mustRead(t, shared), "trellis-export") {
		t.Errorf("the file the link names: %v %v, want an export with mode 0640", info.Mode(), err)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		read <- string(b)
	}()
	if _, err := run(t, "export", "--data", data, "--out", fmt.Sprintf("/dev/fd/%d", w.Fd())); err != nil {
		t.Fatal(err)
	}
	_ = w.Close()
	if got := <-read; !strings.Contains(got, "trellis-export") {
		t.Errorf("through a pipe: %.100q", got)
	}
}

// TestUnknownCommand: a misspelt command is an error that names it, and
// trellis alone shows the commands.
func TestUnknownCommand(t *testing.T) {
	if out, err := run(t, "serv"); err == nil || !strings.Contains(err.Error(), `unknown command "serv"`) {
		t.Fatalf("trellis serv: %v\n%s", err, out)
	}
	if out, err := run(t); err != nil || !strings.Contains(out, "serve") || !strings.Contains(out, "COMMANDS") {
		t.Fatalf("trellis alone: %v\n%s", err, out)
	}
}
