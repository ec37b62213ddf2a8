# Trellis — the commands a newcomer and CI need.
GO ?= go
DATA ?= ./data

.PHONY: run test generate check-generated bench lint graphiql browser-test

## run: serve on the embedded default store in development mode
run:
	$(GO) run ./cmd/trellis serve --dev --data $(DATA)

## test: every test, including SpiceDB's own suites against our datastore
test:
	$(GO) test -count=1 -timeout 60m ./...

## generate: typed schema names and gqlgen code (both committed)
generate:
	$(GO) generate ./...

## check-generated: fail if generation changes the tree
check-generated: generate
	@git diff --exit-code || (echo "generated code is stale: run make generate and commit" && exit 1)
	@test -z "$$(git status --porcelain)" || (git status --porcelain; echo "generation left untracked files" && exit 1)

## bench: datastore and engine benchmarks
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./relations/...

## graphiql: rebuild the GraphiQL assets served from the binary (needs npm)
graphiql:
	server/graphiql/update.sh

## browser-test: GraphiQL in headless Chromium (needs chromium and npm)
browser-test:
	cd server/testdata/browser && npm ci --no-audit --no-fund --silent
	$(GO) test -count=1 -tags browser -run TestGraphiQLInBrowser ./server/

## lint: gofmt and go vet must be silent
lint:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
