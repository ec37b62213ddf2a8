package relations

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	v1 "github.com/authzed/authzed-go/proto/authzed/api/v1"
	"github.com/authzed/spicedb/pkg/tuple"

	"github.com/seed-6461fa00/trellis/schema"
)

// The export format is JSON Lines, one record a line, readable by people
// and by grep: a header with the schema and the revision the relationships
// were read at, every relationship in SpiceDB's own string form, the
// metadata of every project and artifact, and a trailer with the counts, so
// a truncated file is refused on import.

const exportFormat = "trellis-export"

type exportRecord struct {
	Format       string        `json:"format,omitempty"`
	Version      int           `json:"version,omitempty"`
	Revision     Token         `json:"revision,omitempty"`
	Schema       string        `json:"schema,omitempty"`
	Relationship string        `json:"relationship,omitempty"`
	Project      *ProjectInfo  `json:"project,omitempty"`
	Artifact     *ArtifactInfo `json:"artifact,omitempty"`
	End          *exportCounts `json:"end,omitempty"`
}

type exportCounts struct {
	Relationships int `json:"relationships"`
	Projects      int `json:"projects"`
	Artifacts     int `json:"artifacts"`
}

// exportPage is how many relationships one export call reads.
const exportPage = 1000

// Export writes every relationship, as of one revision, and all project
// and artifact metadata to w. progress, if set, is told the running count
// of relationships. Metadata is read after the relationships; it is not
// versioned, so a project created meanwhile may have no metadata in the
// export (its relationships are not in it either).
func (g *Graph) Export(ctx context.Context, w io.Writer, progress func(n int)) error {
	current, err := g.schemas.ReadSchema(ctx, &v1.ReadSchemaRequest{})
	if err != nil {
		return fromSpiceDB(ctx, err, "")
	}
	at := current.GetReadAt()
	out := bufio.NewWriter(w)
	enc := json.NewEncoder(out)
	if err := enc.Encode(exportRecord{Format: exportFormat, Version: 1, Revision: tokenOf(at), Schema: current.GetSchemaText()}); err != nil {
		return err
	}
	projects := map[string]bool{}
	var artifacts []ArtifactRef
	counts := exportCounts{}
	var cursor *v1.Cursor
	for {
		n, next, err := g.exportPage(ctx, at, cursor, func(rel *v1.Relationship) error {
			s, err := tuple.V1StringRelationship(rel)
			if err != nil {
				return err
			}
			if rel.GetResource().GetObjectType() == string(schema.TypeProject) {
				projects[rel.GetResource().GetObjectId()] = true
			}
			if rel.GetRelation() == string(schema.ArtifactProject) && schema.IsArtifactType(schema.ObjectType(rel.GetResource().GetObjectType())) {
				artifacts = append(artifacts, ArtifactRef{Kind: schema.ObjectType(rel.GetResource().GetObjectType()), ID: rel.GetResource().GetObjectId()})
			}
			counts.Relationships++
			return enc.Encode(exportRecord{Relationship: s})
		})
		if err != nil {
			return err
		}
		if progress != nil {
			progress(counts.Relationships)
		}
		if n < exportPage || next == nil {
			break
		}
		cursor = next
	}
	names := make([]string, 0, len(projects))
	for name := range projects {
		names = append(names, name)
	}
	infos, err := g.catalog.Projects(ctx, names)
	if err != nil {
		return &Error{Code: CodeUnavailable, Message: "could not read project metadata", Err: err}
	}
	for _, name := range names {
		if info, ok := infos[name]; ok {
			counts.Projects++
			if err := enc.Encode(exportRecord{Project: &info}); err != nil {
				return err
			}
		}
	}
	for start := 0; start < len(artifacts); start += exportPage {
		batch := artifacts[start:min(start+exportPage, len(artifacts))]
		infos, err := g.catalog.Artifacts(ctx, batch)
		if err != nil {
			return &Error{Code: CodeUnavailable, Message: "could not read artifact metadata", Err: err}
		}
		for _, ref := range batch {
			if info, ok := infos[ref]; ok {
				counts.Artifacts++
				if err := enc.Encode(exportRecord{Artifact: &info}); err != nil {
					return err
				}
			}
		}
	}
	if err := enc.Encode(exportRecord{End: &counts}); err != nil {
		return err
	}
	return out.Flush()
}

func (g *Graph) exportPage(ctx context.Context, at *v1.ZedToken, after *v1.Cursor, each func(*v1.Relationship) error) (int, *v1.Cursor, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := g.perms.ExportBulkRelationships(ctx, &v1.ExportBulkRelationshipsRequest{
		Consistency:    &v1.Consistency{Requirement: &v1.Consistency_AtExactSnapshot{AtExactSnapshot: at}},
		OptionalLimit:  exportPage,
		OptionalCursor: after,
	})
	if err != nil {
		return 0, nil, fromSpiceDB(ctx, err, "")
	}
	n := 0
	var next *v1.Cursor
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return n, next, nil
		}
		if err != nil {
			return n, nil, fromSpiceDB(ctx, err, "")
		}
		for _, rel := range resp.GetRelationships() {
			if err := each(rel); err != nil {
				return n, nil, err
			}
			n++
		}
		next = resp.GetAfterResultCursor()
	}
}

// importBatch is how many relationships one import call writes.
const importBatch = 1000

// Import reads an export into an empty graph with the same schema. It
// reads the whole export once before writing anything, so a truncated or
// malformed export, one of another schema, or a target that holds any
// relationship is refused without a change. Should writing fail midway
// (a relationship twice, say, or one the schema refuses), what was written
// is deleted again, every relationship of the graph with it: nothing else
// may write to the graph while it is imported into. progress, if set, is
// told the running count of relationships written.
func (g *Graph) Import(ctx context.Context, r io.ReadSeeker, progress func(n int)) (Token, error) {
	current, err := g.schemas.ReadSchema(ctx, &v1.ReadSchemaRequest{})
	if err != nil {
		return "", fromSpiceDB(ctx, err, "")
	}
	if err := checkExport(r, current.GetSchemaText()); err != nil {
		return "", err
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	dec := json.NewDecoder(bufio.NewReader(r))
	var header exportRecord
	if err := dec.Decode(&header); err != nil {
		return "", err
	}
	if empty, err := g.isEmpty(ctx); err != nil {
		return "", err
	} else if !empty {
		return "", errorf(CodeConflict, "the target already holds relationships; import only into an empty data directory")
	}
	var stored importedMetadata
	token, err := g.importRecords(ctx, dec, progress, &stored)
	if err != nil {
		// The target was empty: undo what went in, so that the import can
		// be run again rather than refused as a non-empty target.
		if undoErr := g.undoImport(context.WithoutCancel(ctx), stored); undoErr != nil {
			return "", errors.Join(err, fmt.Errorf("and the partial import could not be undone: %w", undoErr))
		}
		return "", err
	}
	return token, nil
}

// importedMetadata is the catalog entries an import has stored.
type importedMetadata struct {
	projects  []ProjectInfo
	artifacts []ArtifactInfo
}

// undoImport deletes every relationship of the graph, a chunk at a time,
// and the catalog entries an import stored.
func (g *Graph) undoImport(ctx context.Context, stored importedMetadata) error {
	const chunk = 1000 // SpiceDB's most for one limited deletion
	for typ := range schema.Permissions {
		for {
			resp, err := g.deleteRelationships(ctx, &v1.DeleteRelationshipsRequest{
				RelationshipFilter:            &v1.RelationshipFilter{ResourceType: string(typ)},
				OptionalLimit:                 chunk,
				OptionalAllowPartialDeletions: true,
			})
			if err != nil {
				return fromSpiceDB(ctx, err, "")
			}
			if resp.GetDeletionProgress() != v1.DeleteRelationshipsResponse_DELETION_PROGRESS_PARTIAL {
				break
			}
		}
	}
	for _, info := range stored.projects {
		if err := g.catalog.DeleteProject(ctx, info); err != nil {
			return err
		}
	}
	for _, info := range stored.artifacts {
		if err := g.catalog.DeleteArtifact(ctx, info); err != nil {
			return err
		}
	}
	return nil
}

// importRecords loads an export's records after its header, noting in
// stored the catalog entries it writes.
func (g *Graph) importRecords(ctx context.Context, dec *json.Decoder, progress func(n int), stored *importedMetadata) (Token, error) {
	var batch []*v1.Relationship
	var token Token
	counts := exportCounts{}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		stream, err := g.perms.ImportBulkRelationships(ctx)
		if err != nil {
			return fromSpiceDB(ctx, err, "")
		}
		if err := stream.Send(&v1.ImportBulkRelationshipsRequest{Relationships: batch}); err != nil {
			return fromSpiceDB(ctx, err, "")
		}
		if _, err := stream.CloseAndRecv(); err != nil {
			return fromSpiceDB(ctx, err, "the export holds a relationship twice")
		}
		batch = batch[:0]
		if progress != nil {
			progress(counts.Relationships)
		}
		return nil
	}
	for {
		var rec exportRecord
		if err := dec.Decode(&rec); err != nil {
			if errors.Is(err, io.EOF) {
				return "", invalid("file", "the export is truncated: it has no end record")
			}
			return "", invalid("file", "malformed export record: %v", err)
		}
		switch {
		case rec.Relationship != "":
			rel, err := tuple.ParseV1Rel(rec.Relationship)
			if err != nil {
				return "", invalid("file", "relationship %q: %v", rec.Relationship, err)
			}
			batch = append(batch, rel)
			counts.Relationships++
			if len(batch) >= importBatch {
				if err := flush(); err != nil {
					return "", err
				}
			}
		case rec.Project != nil:
			if err := flush(); err != nil {
				return "", err
			}
			stored.projects = append(stored.projects, *rec.Project)
			if err := g.catalog.PutProject(ctx, *rec.Project); err != nil {
				return "", &Error{Code: CodeUnavailable, Message: "could not store project metadata", Err: err}
			}
			counts.Projects++
		case rec.Artifact != nil:
			stored.artifacts = append(stored.artifacts, *rec.Artifact)
			if err := g.catalog.PutArtifact(ctx, *rec.Artifact); err != nil {
				return "", &Error{Code: CodeUnavailable, Message: "could not store artifact metadata", Err: err}
			}
			counts.Artifacts++
		case rec.End != nil:
			if err := flush(); err != nil {
				return "", err
			}
			if *rec.End != counts {
				return "", invalid("file", "the export says %+v but holds %+v", *rec.End, counts)
			}
			head, err := g.schemas.ReadSchema(ctx, &v1.ReadSchemaRequest{})
			if err != nil {
				return "", fromSpiceDB(ctx, err, "")
			}
			token = tokenOf(head.GetReadAt())
			return token, nil
		default:
			return "", invalid("file", "unknown export record")
		}
	}
}

// checkExport reads a whole export and checks its header, every record
// and its trailer's counts.
func checkExport(r io.Reader, wantSchema string) error {
	dec := json.NewDecoder(bufio.NewReader(r))
	var header exportRecord
	if err := dec.Decode(&header); err != nil || header.Format != exportFormat {
		return invalid("file", "not a Trellis export (no trellis-export header)")
	}
	if header.Version != 1 {
		return invalid("file", "export format version %d; this build reads version 1", header.Version)
	}
	if header.Schema != wantSchema {
		return invalid("file", "the export was made with another schema than this store's; import it with the matching Trellis version")
	}
	counts := exportCounts{}
	for {
		var rec exportRecord
		if err := dec.Decode(&rec); err != nil {
			if errors.Is(err, io.EOF) {
				return invalid("file", "the export is truncated: it has no end record")
			}
			return invalid("file", "malformed export record: %v", err)
		}
		switch {
		case rec.Relationship != "":
			if _, err := tuple.ParseV1Rel(rec.Relationship); err != nil {
				return invalid("file", "relationship %q: %v", rec.Relationship, err)
			}
			counts.Relationships++
		case rec.Project != nil:
			counts.Projects++
		case rec.Artifact != nil:
			counts.Artifacts++
		case rec.End != nil:
			if *rec.End != counts {
				return invalid("file", "the export says %+v but holds %+v", *rec.End, counts)
			}
			return nil
		default:
			return invalid("file", "unknown export record")
		}
	}
}

// isEmpty reports whether the graph holds no relationship of any type.
func (g *Graph) isEmpty(ctx context.Context) (bool, error) {
	for typ := range schema.Permissions {
		_, found, err := g.firstRelationship(ctx, fullyConsistent(), &v1.RelationshipFilter{ResourceType: string(typ)})
		if err != nil || found {
			return false, err
		}
	}
	return true, nil
}
