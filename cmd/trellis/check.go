package main

import (
	"context"
	"errors"
	"fmt"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/urfave/cli/v3"
	"google.golang.org/grpc"
)

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
			subject, err := parseSubject(cmd.Args().Get(2))
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
