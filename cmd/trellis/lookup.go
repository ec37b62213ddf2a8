package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/urfave/cli/v3"
	"google.golang.org/grpc"
)

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
					subject, err := parseSubject(cmd.Args().Get(2))
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
