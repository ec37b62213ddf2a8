package relations

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"strings"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
)

// MaxPageSize caps every list: a client asking for more gets this many.
const MaxPageSize = 100

// DefaultPageSize is used when a client asks for no particular size.
const DefaultPageSize = 20

// spiceDBPageLimit is the limit of every SpiceDB call that reads a page,
// whatever its size: SpiceDB accepts a cursor only in a call with the limit
// of the one that made it, so a fixed limit lets a client change its page
// size between pages, or probe with none. A page stops reading once it
// has one item more than it needs.
const spiceDBPageLimit = MaxPageSize + 1

// Page is one page of a list, in a stable order. Cursors[i] resumes the list
// after Items[i].
type Page[T any] struct {
	Items   []T
	Cursors []string
	HasNext bool
}

// EndCursor resumes the list after the last item, or "" on an empty page.
func (p Page[T]) EndCursor() string {
	if len(p.Cursors) == 0 {
		return ""
	}
	return p.Cursors[len(p.Cursors)-1]
}

// PageRequest selects a page: First items after the After cursor, reading
// at least as fresh as Token.
type PageRequest struct {
	First int
	After string
	Token Token
	// Probe asks for no items, only whether any follow the cursor: a
	// client's "first: 0", which First's zero value (the default size)
	// cannot say.
	Probe bool
}

// cursor is what an opaque page cursor holds. SpiceDB pins a cursor to the
// revision of the first page, and only accepts it with the same consistency
// requirement, so the cursor carries that requirement along: every page of
// a list reads the same snapshot, however the graph changes between pages.
type cursor struct {
	SpiceDB string `json:"c"`
	Token   Token  `json:"t,omitempty"`
}

// cursorSeal signs the cursors a graph issues, each for the viewer it was
// issued to. A page reads the snapshot its cursor names, and both that
// snapshot and SpiceDB's cursor are plain data a client could rewrite: an
// unsigned cursor would let anyone who may read a list now read it as it
// was at any revision in the GC window (a deleted project's members, under
// the name of a project created since).
type cursorSeal struct{ key []byte }

// cursorMACSize is how much of the HMAC-SHA256 a cursor keeps: 128 bits
// cannot be guessed.
const cursorMACSize = 16

func (s cursorSeal) mac(viewer User, payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(viewer.ID))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)[:cursorMACSize]
}

func (s cursorSeal) encode(viewer User, c cursor) string {
	payload, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(payload) + "." + base64.RawURLEncoding.EncodeToString(s.mac(viewer, payload))
}

func (s cursorSeal) decode(viewer User, str string) (cursor, error) {
	encoded, sig, _ := strings.Cut(str, ".")
	payload, err := base64.RawURLEncoding.DecodeString(encoded)
	if err != nil {
		return cursor{}, invalid("after", "the cursor is malformed")
	}
	mac, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(mac, s.mac(viewer, payload)) {
		return cursor{}, invalid("after", "the cursor was not issued to you by this server, or no longer is valid: start the list again")
	}
	var c cursor
	if json.Unmarshal(payload, &c) != nil || c.SpiceDB == "" {
		return cursor{}, invalid("after", "the cursor is malformed")
	}
	return c, nil
}

// issuer returns what makes the viewer's cursors for a list read at token.
func (s cursorSeal) issuer(viewer User, token Token) func(spiceDB string) string {
	return func(spiceDB string) string { return s.encode(viewer, cursor{SpiceDB: spiceDB, Token: token}) }
}

// pageSize returns the size a request asks for, capped, and validates it.
func (r PageRequest) pageSize() (int, error) {
	switch {
	case r.First < 0:
		return 0, invalid("first", "first must not be negative")
	case r.Probe:
		return 0, nil
	case r.First == 0:
		return DefaultPageSize, nil
	case r.First > MaxPageSize:
		return MaxPageSize, nil
	}
	return r.First, nil
}

// start returns the SpiceDB cursor and the consistency a viewer's page
// reads at.
func (s cursorSeal) start(viewer User, r PageRequest) (*v1.Cursor, Token, error) {
	if r.After == "" {
		return nil, r.Token, nil
	}
	c, err := s.decode(viewer, r.After)
	if err != nil {
		return nil, "", err
	}
	return &v1.Cursor{Token: c.SpiceDB}, c.Token, nil
}

// spiceResult is a streamed SpiceDB result that can resume a list.
type spiceResult interface {
	GetAfterResultCursor() *v1.Cursor
}

// readPage reads one page of up to size items from a SpiceDB stream, and
// one more to learn whether another page follows. keep maps a result to an
// item, or skips it; issue makes each item's cursor from SpiceDB's.
func readPage[R spiceResult, T any](ctx context.Context, recv func() (R, error), size int, issue func(string) string, keep func(R) (T, bool)) (items []T, cursors []string, hasNext bool, err error) {
	for {
		r, err := recv()
		if errors.Is(err, io.EOF) {
			return items, cursors, false, nil
		}
		if err != nil {
			return nil, nil, false, fromSpiceDB(ctx, err, "")
		}
		item, ok := keep(r)
		if !ok {
			continue
		}
		if len(items) == size {
			return items, cursors, true, nil
		}
		items = append(items, item)
		cursors = append(cursors, issue(r.GetAfterResultCursor().GetToken()))
	}
}

// relationshipPage reads one page of the relationships filter matches, at
// the snapshot token names, for viewer; keep maps a relationship to an
// item, or skips it.
func relationshipPage[T any](ctx context.Context, g *Graph, viewer User, filter *v1.RelationshipFilter, size int, after *v1.Cursor, token Token, keep func(*v1.Relationship) (T, bool)) (Page[T], error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := g.perms.ReadRelationships(ctx, &v1.ReadRelationshipsRequest{
		Consistency:        readConsistency(token),
		RelationshipFilter: filter,
		OptionalLimit:      spiceDBPageLimit,
		OptionalCursor:     after,
	})
	if err != nil {
		return Page[T]{}, fromSpiceDB(ctx, err, "")
	}
	items, cursors, hasNext, err := readPage(ctx, stream.Recv, size, g.cursors.issuer(viewer, token), func(r *v1.ReadRelationshipsResponse) (T, bool) {
		return keep(r.GetRelationship())
	})
	if err != nil {
		return Page[T]{}, err
	}
	return Page[T]{Items: items, Cursors: cursors, HasNext: hasNext}, nil
}
