package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/grpcutil"
	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/server"
)

// The graph a one-off command works on: a data directory (no server may
// have it open) or a running server's SpiceDB gRPC API.
func graphFlags() []cli.Flag {
	return []cli.Flag{
		dataFlag(),
		&cli.StringFlag{Name: "endpoint", Usage: "a running server's gRPC API (host:port); instead of --data", Sources: cli.EnvVars("TRELLIS_ENDPOINT")},
		&cli.StringFlag{Name: "token", Usage: "preshared key for --endpoint", Sources: cli.EnvVars("TRELLIS_TOKEN")},
		&cli.StringFlag{Name: "ca-file", Usage: "PEM certificate authorities --endpoint's TLS certificate must chain to (default: the system's)", Sources: cli.EnvVars("TRELLIS_CA_FILE")},
		&cli.BoolFlag{Name: "insecure", Usage: "reach --endpoint without TLS, the key in the clear (a server started without --grpc-tls-cert)", Sources: cli.EnvVars("TRELLIS_INSECURE")},
	}
}

// withConn runs fn with a SpiceDB connection to the chosen graph.
func withConn(ctx context.Context, cmd *cli.Command, fn func(grpc.ClientConnInterface) error) error {
	if endpoint := cmd.String("endpoint"); endpoint != "" {
		opts, err := endpointDialOptions(cmd)
		if err != nil {
			return err
		}
		conn, err := grpc.NewClient(endpoint, opts...)
		if err != nil {
			return err
		}
		defer conn.Close()
		err = fn(conn)
		if err != nil && !cmd.Bool("insecure") && strings.Contains(err.Error(), "first record does not look like a TLS handshake") {
			return fmt.Errorf("%w: %s answers without TLS; pass --insecure to reach it so, the key in the clear", err, endpoint)
		}
		return err
	}
	return withStack(ctx, cmd.String("data"), true, func(s *server.Stack) error { return fn(s.Conn()) })
}

// endpointDialOptions secures a connection to --endpoint: TLS verified
// against --ca-file or the system's roots, as zed does, unless --insecure
// asks for plaintext. The key is a bearer credential, so it is never sent
// in the clear without that explicit choice.
func endpointDialOptions(cmd *cli.Command) ([]grpc.DialOption, error) {
	token := cmd.String("token")
	if cmd.Bool("insecure") {
		if cmd.String("ca-file") != "" {
			return nil, errors.New("--ca-file is for TLS; --insecure turns TLS off: choose one")
		}
		return []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), grpcutil.WithInsecureBearerToken(token)}, nil
	}
	var creds grpc.DialOption
	var err error
	if ca := cmd.String("ca-file"); ca != "" {
		creds, err = grpcutil.WithCustomCerts(grpcutil.VerifyCA, ca)
		if err != nil {
			err = fmt.Errorf("--ca-file %s: %w", ca, err)
		}
	} else {
		creds, err = grpcutil.WithSystemCerts(grpcutil.VerifyCA)
	}
	if err != nil {
		return nil, err
	}
	return []grpc.DialOption{creds, grpcutil.WithBearerToken(token)}, nil
}

// parseSubject reads a subject "type:id". A user is named by the ID
// Trellis stores, which for a token subject that is no SpiceDB ID (an
// email address, say) is its encoding: the error says which.
func parseSubject(s string) (*v1.ObjectReference, error) {
	ref, err := parseObject(s)
	if err != nil || ref.ObjectType != "user" {
		return ref, err
	}
	if _, err := relations.UserFromID(ref.ObjectId); err != nil {
		if u, serr := relations.UserFromSubject(ref.ObjectId); serr == nil {
			return nil, fmt.Errorf("%q is not a user ID; the user a token with subject %q signs in as is user:%s", ref.ObjectId, ref.ObjectId, u.ID)
		}
		return nil, err
	}
	return ref, nil
}

// parseObject reads "type:id".
func parseObject(s string) (*v1.ObjectReference, error) {
	typ, id, ok := strings.Cut(s, ":")
	if !ok || typ == "" || id == "" {
		return nil, fmt.Errorf("%q is not type:id", s)
	}
	return &v1.ObjectReference{ObjectType: typ, ObjectId: id}, nil
}

var fullyConsistent = &v1.Consistency{Requirement: &v1.Consistency_FullyConsistent{FullyConsistent: true}}

// dataFlag names the data directory a one-off command opens.
func dataFlag() cli.Flag {
	return &cli.StringFlag{Name: "data", Value: "./data", Usage: "data directory (no server may have it open)", Sources: cli.EnvVars("TRELLIS_DATA")}
}

// withStack opens a data directory for a one-off command. A command that
// only reads asks for an existing directory: see StackConfig.Existing.
func withStack(ctx context.Context, dir string, existing bool, fn func(*server.Stack) error) error {
	stack, err := server.OpenStack(ctx, server.StackConfig{DataDir: dir, Existing: existing})
	if err != nil {
		return err
	}
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return errors.Join(fn(stack), stack.Close(closeCtx))
}

// progressTo draws a counter of what was done on w, for export and import.
func progressTo(w io.Writer, what string) (*progressbar.ProgressBar, func(n int)) {
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
	return bar, func(n int) { _ = bar.Set(n) }
}
