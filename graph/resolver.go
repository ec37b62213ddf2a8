package graph

import (
	"github.com/seed-6461fa00/trellis/relations"
)

// Resolver holds what every resolver needs; it is dependency injection only.
type Resolver struct {
	Graph         *relations.Graph
	subscriptions *subscriptionSlots
}
