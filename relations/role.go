package relations

import (
	"slices"
	"strings"

	"github.com/seed-6461fa00/trellis/schema"
)

// Role is the one role a user holds in a project. Roles are ordered, and each
// has every right of the roles below it.
type Role schema.Relation

// The project roles, lowest first.
const (
	RoleReader  = Role(schema.ProjectReader)
	RoleWriter  = Role(schema.ProjectWriter)
	RoleManager = Role(schema.ProjectManager)
	RoleAdmin   = Role(schema.ProjectAdmin)
)

// Roles lists every role, lowest first.
func Roles() []Role {
	roles := make([]Role, len(schema.ProjectRoles))
	for i, r := range schema.ProjectRoles {
		roles[i] = Role(r)
	}
	return roles
}

// ParseRole reads a role name, case-insensitively.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if r.rank() < 0 {
		return "", invalid("role", "%q is not a role; use one of reader, writer, manager, admin", s)
	}
	return r, nil
}

// rank orders roles: reader 0 … admin 3; -1 for anything else.
func (r Role) rank() int { return slices.Index(schema.ProjectRoles, schema.Relation(r)) }

// AtLeast reports whether r has every right of other.
func (r Role) AtLeast(other Role) bool { return r.rank() >= other.rank() && r.rank() >= 0 }

func (r Role) String() string { return string(r) }

// grantPermission is the project permission an actor needs to give or take
// away role r: admins are managed only by admins, every other role by
// managers and above.
func grantPermission(r Role) schema.Permission {
	if r == RoleAdmin {
		return schema.ProjectManageAdmins
	}
	return schema.ProjectManageMembers
}

// floorPermission is the project permission that holders of role r and of
// every role above it have, and holders of lower roles lack: asking SpiceDB
// for it finds "at least r". TestRoleFloors checks it against the schema.
func floorPermission(r Role) schema.Permission {
	switch r {
	case RoleAdmin:
		return schema.ProjectManageAdmins
	case RoleManager:
		return schema.ProjectManageMembers
	case RoleWriter:
		return schema.ProjectWrite
	}
	return schema.ProjectRead
}
