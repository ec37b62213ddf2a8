package graph

import (
	"strings"

	"github.com/seed-6461fa00/trellis/graph/model"
	"github.com/seed-6461fa00/trellis/relations"
	"github.com/seed-6461fa00/trellis/schema"
)

// GraphQL enums spell the schema's names in upper case.

func roleFromModel(r model.Role) relations.Role { return relations.Role(strings.ToLower(string(r))) }

func roleToModel(r relations.Role) model.Role { return model.Role(strings.ToUpper(string(r))) }

func projectPermission(p model.ProjectPermission) schema.Permission {
	return schema.Permission(strings.ToLower(string(p)))
}

func permissionToModel(p schema.Permission) model.ProjectPermission {
	return model.ProjectPermission(strings.ToUpper(string(p)))
}

func kindFromModel(k model.ArtifactKind) schema.ObjectType {
	return schema.ObjectType(strings.ToLower(string(k)))
}

func kindToModel(t schema.ObjectType) model.ArtifactKind {
	return model.ArtifactKind(strings.ToUpper(string(t)))
}

func pageInfo(hasNext bool, cursors []string) *model.PageInfo {
	info := &model.PageInfo{HasNextPage: hasNext}
	if len(cursors) > 0 {
		info.StartCursor = &cursors[0]
		info.EndCursor = &cursors[len(cursors)-1]
	}
	return info
}

func pageRequest(first *int, after *string, t relations.Token) relations.PageRequest {
	r := relations.PageRequest{Token: t}
	if first != nil {
		r.First = *first
		r.Probe = *first == 0
	}
	if after != nil {
		r.After = *after
	}
	return r
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
