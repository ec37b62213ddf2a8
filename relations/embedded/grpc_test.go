package embedded_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	authzed "github.com/authzed/authzed-go/v1"
	"github.com/authzed/grpcutil"
	"github.com/authzed/spicedb/pkg/datastore"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
	"github.com/seed-6461fa00/trellis/relations/embedded"
	"github.com/seed-6461fa00/trellis/relations/relationstest"
	"github.com/seed-6461fa00/trellis/schema"
)

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func dial(t *testing.T, addr string, opts ...grpc.DialOption) *authzed.Client {
	t.Helper()
	c, err := authzed.NewClient(addr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func startTCP(t *testing.T, key string) string {
	t.Helper()
	ds, err := relationstest.NewDatastore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return startTCPOver(t, key, ds)
}

// startTCPOver serves ds (closed with the test) over TCP.
func startTCPOver(t *testing.T, key string, ds datastore.Datastore) string {
	t.Helper()
	addr := freeAddr(t)
	startOver(t, embedded.Config{Datastore: ds, PresharedKeys: []string{key}, GRPCAddress: addr})
	return addr
}

// startOver starts an engine as cfg says; the engine and its datastore
// close with the test.
func startOver(t *testing.T, cfg embedded.Config) *embedded.Engine {
	t.Helper()
	t.Cleanup(func() { _ = cfg.Datastore.Close() })
	e, err := embedded.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	})
	return e
}

// receiveAll reads a server stream to its end.
func receiveAll[T any](t *testing.T, recv func() (T, error)) []T {
	t.Helper()
	var out []T
	for {
		r, err := recv()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
}

func rel(resType, resID, relation, subType, subID string) *v1.Relationship {
	return &v1.Relationship{
		Resource: &v1.ObjectReference{ObjectType: resType, ObjectId: resID},
		Relation: relation,
		Subject:  &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: subType, ObjectId: subID}},
	}
}

// TestSpiceDBAPIOverTCP drives the SpiceDB v1 API the way a platform
// service does, with authzed-go: schema, writes, check, lookups, watch.
func TestSpiceDBAPIOverTCP(t *testing.T) {
	const key = "service-key-for-tests"
	addr := startTCP(t, key)
	c := dial(t, addr, grpcutil.WithInsecureBearerToken(key))
	ctx := t.Context()

	schemaWritten, err := c.WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: schema.Text})
	if err != nil {
		t.Fatal(err)
	}
	read, err := c.ReadSchema(ctx, &v1.ReadSchemaRequest{})
	if err != nil || read.GetSchemaText() == "" {
		t.Fatalf("read schema: %v", err)
	}

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	// Watching from the schema write's token, the watch cannot miss the
	// relationship writes below, however late the server starts it.
	watch, err := c.Watch(watchCtx, &v1.WatchRequest{
		OptionalStartCursor: schemaWritten.GetWrittenAt(),
		OptionalUpdateKinds: []v1.WatchKind{v1.WatchKind_WATCH_KIND_INCLUDE_RELATIONSHIP_UPDATES},
	})
	if err != nil {
		t.Fatal(err)
	}

	written, err := c.WriteRelationships(ctx, &v1.WriteRelationshipsRequest{Updates: []*v1.RelationshipUpdate{
		{Operation: v1.RelationshipUpdate_OPERATION_CREATE, Relationship: rel("project", "apollo", "admin", "user", "alice")},
		{Operation: v1.RelationshipUpdate_OPERATION_CREATE, Relationship: rel("project", "apollo", "reader", "user", "bob")},
		{Operation: v1.RelationshipUpdate_OPERATION_CREATE, Relationship: rel("job", "train-1", "project", "project", "apollo")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	fresh := &v1.Consistency{Requirement: &v1.Consistency_AtLeastAsFresh{AtLeastAsFresh: written.GetWrittenAt()}}

	for _, tc := range []struct {
		user, permission string
		want             bool
	}{{"bob", "read_logs", true}, {"bob", "terminate", false}, {"alice", "terminate", true}, {"carol", "read_logs", false}} {
		resp, err := c.CheckPermission(ctx, &v1.CheckPermissionRequest{
			Consistency: fresh,
			Resource:    &v1.ObjectReference{ObjectType: "job", ObjectId: "train-1"},
			Permission:  tc.permission,
			Subject:     &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: tc.user}},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.GetPermissionship() == v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION; got != tc.want {
			t.Errorf("%s %s on job:train-1 = %v, want %v", tc.user, tc.permission, got, tc.want)
		}
	}

	lr, err := c.LookupResources(ctx, &v1.LookupResourcesRequest{
		Consistency: fresh, ResourceObjectType: "job", Permission: "read",
		Subject: &v1.SubjectReference{Object: &v1.ObjectReference{ObjectType: "user", ObjectId: "bob"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var jobs []string
	for _, r := range receiveAll(t, lr.Recv) {
		jobs = append(jobs, r.GetResourceObjectId())
	}
	if !slices.Equal(jobs, []string{"train-1"}) {
		t.Fatalf("bob's jobs = %v", jobs)
	}

	ls, err := c.LookupSubjects(ctx, &v1.LookupSubjectsRequest{
		Consistency: fresh, Resource: &v1.ObjectReference{ObjectType: "project", ObjectId: "apollo"},
		Permission: "read", SubjectObjectType: "user",
	})
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, r := range receiveAll(t, ls.Recv) {
		users = append(users, r.GetSubject().GetSubjectObjectId())
	}
	slices.Sort(users)
	if !slices.Equal(users, []string{"alice", "bob"}) {
		t.Fatalf("readers of apollo = %v", users)
	}

	seen := 0
	for seen < 3 {
		resp, err := watch.Recv()
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		seen += len(resp.GetUpdates())
	}
}

// TestSpiceDBAPIRefusesStrangers: no key is Unauthenticated, a wrong key
// PermissionDenied, and neither reads anything.
func TestSpiceDBAPIRefusesStrangers(t *testing.T) {
	addr := startTCP(t, "the-right-key")
	for name, tc := range map[string]struct {
		opts []grpc.DialOption
		want codes.Code
	}{
		"no key":    {nil, codes.Unauthenticated},
		"wrong key": {[]grpc.DialOption{grpcutil.WithInsecureBearerToken("a-wrong-key")}, codes.PermissionDenied},
	} {
		c := dial(t, addr, tc.opts...)
		_, err := c.ReadSchema(t.Context(), &v1.ReadSchemaRequest{})
		if status.Code(err) != tc.want {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

// TestTCPNeedsAKey: a TCP listener without a key is refused at start.
func TestTCPNeedsAKey(t *testing.T) {
	ds, err := relationstest.NewDatastore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	if _, err := embedded.Start(t.Context(), embedded.Config{Datastore: ds, GRPCAddress: freeAddr(t)}); err == nil {
		t.Fatal("started a keyless TCP listener")
	}
}

// TestSpiceDBAPIOverTLS: with a certificate, the gRPC listener speaks TLS
// and refuses plaintext.
func TestSpiceDBAPIOverTLS(t *testing.T) {
	ds, err := relationstest.NewDatastore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	certFile, keyFile, pool := relationstest.SelfSignedCert(t)
	addr := freeAddr(t)
	e, err := embedded.Start(t.Context(), embedded.Config{Datastore: ds, PresharedKeys: []string{"k"}, GRPCAddress: addr, TLSCertFile: certFile, TLSKeyFile: keyFile})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = e.Close(ctx)
	}()
	secure, err := authzed.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})), grpcutil.WithBearerToken("k"))
	if err != nil {
		t.Fatal(err)
	}
	defer secure.Close()
	if _, err := secure.WriteSchema(t.Context(), &v1.WriteSchemaRequest{Schema: schema.Text}); err != nil {
		t.Fatalf("over TLS: %v", err)
	}
	plain := dial(t, addr, grpcutil.WithInsecureBearerToken("k"))
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if _, err := plain.ReadSchema(ctx, &v1.ReadSchemaRequest{}); err == nil {
		t.Fatal("plaintext was accepted by a TLS listener")
	}
}

// TestImportTooLargeForOneTransaction: an import stream larger than one
// transaction of the store fails as a bad request that says how to split
// it, and leaves nothing behind; the same relationships in two streams
// load.
func TestImportTooLargeForOneTransaction(t *testing.T) {
	const key = "service-key-for-tests"
	ds, err := badgerds.New(t.Context(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	client := dial(t, startTCPOver(t, key, ds), grpcutil.WithInsecureBearerToken(key))
	ctx := t.Context()
	if _, err := client.WriteSchema(ctx, &v1.WriteSchemaRequest{Schema: schema.Text}); err != nil {
		t.Fatal(err)
	}
	batch := func(b int) []*v1.Relationship {
		out := make([]*v1.Relationship, 0, 1000)
		for i := range 1000 {
			out = append(out, rel("project", fmt.Sprintf("p%d-%d", b, i), "reader", "user", "u"))
		}
		return out
	}
	load := func(from, to int) error {
		stream, err := client.ImportBulkRelationships(ctx)
		if err != nil {
			return err
		}
		for b := from; b < to; b++ {
			if err := stream.Send(&v1.ImportBulkRelationshipsRequest{Relationships: batch(b)}); err != nil {
				break // the server ended the stream: CloseAndRecv says why
			}
		}
		_, err = stream.CloseAndRecv()
		return err
	}
	err = load(0, 80)
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "split it") {
		t.Fatalf("80,000 relationships in one stream: %v, want InvalidArgument saying to split it", err)
	}
	count := func() int {
		stream, err := client.ReadRelationships(ctx, &v1.ReadRelationshipsRequest{
			Consistency:        &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}},
			RelationshipFilter: &v1.RelationshipFilter{ResourceType: "project"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return len(receiveAll(t, stream.Recv))
	}
	if n := count(); n != 0 {
		t.Fatalf("the failed import left %d relationships", n)
	}
	if err := load(0, 40); err != nil {
		t.Fatal(err)
	}
	if err := load(40, 80); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 80000 {
		t.Fatalf("two streams loaded %d relationships, want 80000", n)
	}
}

// TestCloseRightAfterStart: an engine closed before its servers began
// serving closes without error; tools open and close one at once.
func TestCloseRightAfterStart(t *testing.T) {
	ds, err := relationstest.NewDatastore(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer ds.Close()
	for range 20 {
		e, err := embedded.Start(t.Context(), embedded.Config{Datastore: ds, PresharedKeys: []string{"k"}, GRPCAddress: freeAddr(t)})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.Close(t.Context()); err != nil {
			t.Fatalf("closing an engine right after it started: %v", err)
		}
	}
}
