package relations

import (
	"encoding/base64"
	"regexp"
	"strings"
)

// User identifies a person. Its ID is a valid SpiceDB object ID made from
// the token subject by UserFromSubject.
type User struct {
	ID string
}

// spiceObjectChars is SpiceDB's object ID alphabet; "*" alone, the
// wildcard, is not an ID.
var spiceObjectChars = regexp.MustCompile(`^[a-zA-Z0-9/_|\-=+]+$`)

// maxObjectID is SpiceDB's limit on an object ID's length.
const maxObjectID = 1024

func isObjectID(s string) bool { return len(s) <= maxObjectID && spiceObjectChars.MatchString(s) }

// encodedPrefix starts every encoded subject. Subjects that are valid object
// IDs but begin with it are encoded too, which keeps the mapping one-to-one.
const encodedPrefix = "="

// UserFromSubject maps a token subject (any non-empty string) to a User. A
// subject that is already a valid SpiceDB object ID is used as it is, so IDs
// stay readable; any other subject is encoded reversibly, never rejected.
func UserFromSubject(subject string) (User, error) {
	if subject == "" {
		return User{}, invalid("subject", "the user subject is empty")
	}
	if isObjectID(subject) && !strings.HasPrefix(subject, encodedPrefix) {
		return User{ID: subject}, nil
	}
	id := encodedPrefix + base64.StdEncoding.EncodeToString([]byte(subject))
	if len(id) > maxObjectID {
		return User{}, invalid("subject", "the user subject is longer than %d bytes", (maxObjectID-len(encodedPrefix))*3/4)
	}
	return User{ID: id}, nil
}

// UserFromID returns the user with a stored ID, checking its form.
func UserFromID(id string) (User, error) {
	if !isObjectID(id) {
		return User{}, invalid("user", "%q is not a valid user ID", id)
	}
	if strings.HasPrefix(id, encodedPrefix) {
		if _, err := base64.StdEncoding.DecodeString(id[len(encodedPrefix):]); err != nil {
			return User{}, invalid("user", "%q is not a valid user ID", id)
		}
	}
	return User{ID: id}, nil
}

// grantable checks that a user about to be given a role or a share has an
// ID some token signs in as: the encoding UserFromSubject makes, not
// another spelling of the same subject (=YWxpY2U= for alice, who needs
// none). Taking a grant away accepts any valid ID, so one stored under
// another spelling by an earlier build can still be removed.
func grantable(u User) error {
	if _, err := UserFromID(u.ID); err != nil {
		return err
	}
	if canonical, err := UserFromSubject(u.Subject()); err != nil || canonical.ID != u.ID {
		return invalid("user", "%q is not a user ID a token signs in as; use %q", u.ID, canonical.ID)
	}
	return nil
}

// Subject returns the token subject the user was made from.
func (u User) Subject() string {
	if rest, ok := strings.CutPrefix(u.ID, encodedPrefix); ok {
		if raw, err := base64.StdEncoding.DecodeString(rest); err == nil {
			return string(raw)
		}
	}
	return u.ID
}
