package graph

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracing gives every GraphQL operation a span, under the request's, so a
// trace shows which operation made which SpiceDB calls. Like the metrics,
// it names spans by operation type; the client-chosen operation name is an
// attribute.
type tracing struct {
	tracer trace.Tracer
}

var (
	_ graphql.HandlerExtension    = tracing{}
	_ graphql.ResponseInterceptor = tracing{}
)

func (tracing) ExtensionName() string                   { return "Tracing" }
func (tracing) Validate(graphql.ExecutableSchema) error { return nil }

func (t tracing) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	operation, name := "unknown", ""
	if graphql.HasOperationContext(ctx) {
		oc := graphql.GetOperationContext(ctx)
		name = oc.OperationName
		if oc.Operation != nil {
			operation = string(oc.Operation.Operation)
		}
	}
	ctx, span := t.tracer.Start(ctx, "graphql."+operation, trace.WithAttributes(
		attribute.String("graphql.operation.type", operation),
		attribute.String("graphql.operation.name", name),
	))
	defer span.End()
	resp := next(ctx)
	if resp != nil && len(resp.Errors) > 0 {
		codesSeen := make([]string, 0, len(resp.Errors))
		for _, e := range resp.Errors {
			code, _ := e.Extensions["code"].(string)
			codesSeen = append(codesSeen, code)
		}
		span.SetAttributes(attribute.StringSlice("graphql.error.codes", codesSeen))
		span.SetStatus(codes.Error, resp.Errors[0].Message)
	}
	return resp
}
