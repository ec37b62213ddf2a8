package schema

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/authzed/spicedb/pkg/development"
	devinterface "github.com/authzed/spicedb/pkg/proto/developer/v1"
)

// Check checks schema text the way SpiceDB checks a schema it is asked to
// write: its syntax, and that every type, relation and permission it uses
// is defined, once. It returns one line per problem, with its line number.
func Check(ctx context.Context, text string) (problems []string, err error) {
	devCtx, devErrs, err := development.NewDevContext(ctx, &devinterface.RequestContext{Schema: text})
	if err != nil {
		return nil, err
	}
	if devErrs != nil {
		for _, e := range devErrs.GetInputErrors() {
			problems = append(problems, fmt.Sprintf("line %d: %s", e.GetLine(), e.GetMessage()))
		}
		return problems, nil
	}
	devCtx.Dispose()
	return nil, nil
}

// Validate runs a SpiceDB validation file (the format zed and the
// playground use) through SpiceDB's development engine: its schema, its
// relationships, every assertion and every expected relation. A schemaFile
// it names is read from fsys. It returns one line per problem found, with
// the file's line number, and the number of assertions it ran.
func Validate(ctx context.Context, yaml []byte, fsys fs.FS) (problems []string, assertions int, err error) {
	devCtx, devErrs, err := development.NewDevContextForYAML(ctx, yaml, development.WithSourceFS(fsys))
	if err != nil {
		return nil, 0, err
	}
	if devErrs != nil {
		for _, e := range devErrs.GetInputErrors() {
			problems = append(problems, fmt.Sprintf("line %d: %s", e.GetLine(), e.GetMessage()))
		}
		return problems, 0, nil
	}
	defer devCtx.DevContext.Dispose()
	assertionErrs, err := development.RunAllAssertions(devCtx.DevContext, &devCtx.Assertions)
	if err != nil {
		return nil, 0, fmt.Errorf("run assertions: %w", err)
	}
	for _, e := range assertionErrs {
		problems = append(problems, fmt.Sprintf("line %d: %s", e.GetLine(), e.GetMessage()))
	}
	_, validationErrs, err := development.RunValidation(devCtx.DevContext, &devCtx.ExpectedRelations)
	if err != nil {
		return nil, 0, fmt.Errorf("run validation: %w", err)
	}
	for _, e := range validationErrs {
		problems = append(problems, fmt.Sprintf("line %d: %s", e.GetLine(), e.GetMessage()))
	}
	a := devCtx.Assertions
	return problems, len(a.AssertTrue) + len(a.AssertFalse) + len(a.AssertCaveated), nil
}
