#!/usr/bin/env bash
# Rebuilds the GraphiQL assets served at /graphiql/ from the npm registry,
# so the page works air-gapped. The versions and integrity hashes are those
# gqlgen's GraphiQL page pins (server/graphiql.go); a mismatch fails.
set -euo pipefail
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent graphiql@4.1.2 react@18.2.0 react-dom@18.2.0 >/dev/null)
for pkg in graphiql-4.1.2 react-18.2.0 react-dom-18.2.0; do
  mkdir -p "$work/$pkg" && tar -xzf "$work/$pkg.tgz" -C "$work/$pkg"
done
cp "$work/graphiql-4.1.2/package/graphiql.min.js" "$work/graphiql-4.1.2/package/graphiql.min.css" .
cp "$work/react-18.2.0/package/umd/react.production.min.js" .
cp "$work/react-dom-18.2.0/package/umd/react-dom.production.min.js" .
{ echo "graphiql 4.1.2:"; cat "$work/graphiql-4.1.2/package/LICENSE"; echo;
  echo "react 18.2.0 and react-dom 18.2.0:"; cat "$work/react-18.2.0/package/LICENSE"; } > LICENSES.txt
cd .. && go test -run TestGraphiQLAssetsMatchIntegrity .
