package embedded

import "context"

// PlanServes reports whether CheckAtHead answers this kind of check at the
// head by SpiceDB's query plan rather than its dispatcher.
func (e *Engine) PlanServes(ctx context.Context, resourceType, permission, subjectType string) (bool, error) {
	plan, _, err := e.planAtHead(ctx, planKey{resourceType: resourceType, permission: permission, subjectType: subjectType})
	return plan != nil, err
}

// PlansHeld counts the entries of the current schema's plans.
func (e *Engine) PlansHeld() int {
	set := e.plans.current.Load()
	if set == nil {
		return 0
	}
	n := 0
	set.plans.Range(func(any, any) bool { n++; return true })
	return n
}
