package main

import (
	"context"
	"time"

	dscfg "github.com/authzed/spicedb/pkg/cmd/datastore"
	"github.com/authzed/spicedb/pkg/datastore"
)

func memoryDatastore(ctx context.Context) (datastore.Datastore, error) {
	return dscfg.NewDatastore(ctx, dscfg.WithEngine(dscfg.MemoryEngine), dscfg.WithRevisionQuantization(0), dscfg.WithGCWindow(time.Hour))
}
