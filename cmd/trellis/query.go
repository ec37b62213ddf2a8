package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/grpcutil"
	"github.com/urfave/cli/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/seed-6461fa00/trellis/server"
)

// The graph a one-off query asks: a data directory (no server may have it
// open) or a running server's SpiceDB gRPC API.
func graphFlags() []cli.Flag {
	return []cli.Flag{
		dataFlag(),
		&cli.StringFlag{Name: "endpoint", Usage: "a running server's gRPC API (host:port); instead of --data", Sources: cli.EnvVars("TRELLIS_ENDPOINT")},
		&cli.StringFlag{Name: "token", Usage: "preshared key for --endpoint", Sources: cli.EnvVars("TRELLIS_TOKEN")},
	}
}

// withConn runs fn with a SpiceDB connection to the chosen graph.
func withConn(ctx context.Context, cmd *cli.Command, fn func(grpc.ClientConnInterface) error) error {
	if endpoint := cmd.String("endpoint"); endpoint != "" {
		conn, err := grpc.NewClient(endpoint, grpc.WithTransportCredentials(insecure.NewCredentials()), grpcutil.WithInsecureBearerToken(cmd.String("token")))
		if err != nil {
			return err
		}
		defer conn.Close()
		return fn(conn)
	}
	return withStack(ctx, cmd.String("data"), func(s *server.Stack) error { return fn(s.Conn()) })
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

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "may SUBJECT do PERMISSION on RESOURCE? e.g. trellis check job:train-1 terminate user:bob",
		ArgsUsage: "RESOURCE PERMISSION SUBJECT",
		Flags:     graphFlags(),
		Action: func(ctx context.Context, cmd *cli.Command) error {
			if cmd.Args().Len() != 3 {
				return errors.New("usage: trellis check RESOURCE PERMISSION SUBJECT")
			}
			resource, err := parseObject(cmd.Args().Get(0))
			if err != nil {
				return err
			}
			subject, err := parseObject(cmd.Args().Get(2))
			if err != nil {
				return err
			}
			return withConn(ctx, cmd, func(conn grpc.ClientConnInterface) error {
				resp, err := v1.NewPermissionsServiceClient(conn).CheckPermission(ctx, &v1.CheckPermissionRequest{
					Consistency: fullyConsistent, Resource: resource, Permission: cmd.Args().Get(1),
					Subject: &v1.SubjectReference{Object: subject},
				})
				if err != nil {
					return err
				}
				answer := "no"
				if resp.GetPermissionship() == v1.CheckPermissionResponse_PERMISSIONSHIP_HAS_PERMISSION {
					answer = "yes"
				}
				_, err = fmt.Fprintln(cmd.Root().Writer, answer)
				return err
			})
		},
	}
}

func lookupCommand() *cli.Command {
	return &cli.Command{
		Name:  "lookup",
		Usage: "list what a subject can reach, or who can reach a resource",
		Commands: []*cli.Command{
			{
				Name:      "resources",
				Usage:     "e.g. trellis lookup resources project read user:bob",
				ArgsUsage: "TYPE PERMISSION SUBJECT",
				Flags:     graphFlags(),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.Args().Len() != 3 {
						return errors.New("usage: trellis lookup resources TYPE PERMISSION SUBJECT")
					}
					subject, err := parseObject(cmd.Args().Get(2))
					if err != nil {
						return err
					}
					return withConn(ctx, cmd, func(conn grpc.ClientConnInterface) error {
						stream, err := v1.NewPermissionsServiceClient(conn).LookupResources(ctx, &v1.LookupResourcesRequest{
							Consistency: fullyConsistent, ResourceObjectType: cmd.Args().Get(0), Permission: cmd.Args().Get(1),
							Subject: &v1.SubjectReference{Object: subject},
						})
						if err != nil {
							return err
						}
						return printEach(cmd, stream.Recv, func(r *v1.LookupResourcesResponse) string {
							return cmd.Args().Get(0) + ":" + r.GetResourceObjectId()
						})
					})
				},
			},
			{
				Name:      "subjects",
				Usage:     "e.g. trellis lookup subjects project:apollo write user",
				ArgsUsage: "RESOURCE PERMISSION SUBJECT_TYPE",
				Flags:     graphFlags(),
				Action: func(ctx context.Context, cmd *cli.Command) error {
					if cmd.Args().Len() != 3 {
						return errors.New("usage: trellis lookup subjects RESOURCE PERMISSION SUBJECT_TYPE")
					}
					resource, err := parseObject(cmd.Args().Get(0))
					if err != nil {
						return err
					}
					return withConn(ctx, cmd, func(conn grpc.ClientConnInterface) error {
						stream, err := v1.NewPermissionsServiceClient(conn).LookupSubjects(ctx, &v1.LookupSubjectsRequest{
							Consistency: fullyConsistent, Resource: resource, Permission: cmd.Args().Get(1),
							SubjectObjectType: cmd.Args().Get(2),
						})
						if err != nil {
							return err
						}
						return printEach(cmd, stream.Recv, func(r *v1.LookupSubjectsResponse) string {
							return cmd.Args().Get(2) + ":" + r.GetSubject().GetSubjectObjectId()
						})
					})
				},
			},
		},
	}
}

func printEach[T any](cmd *cli.Command, recv func() (T, error), line func(T) string) error {
	for {
		r, err := recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintln(cmd.Root().Writer, line(r)); err != nil {
			return err
		}
	}
}
