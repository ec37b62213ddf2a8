package server

import (
	"embed"
	"io/fs"
	"net/http"

	"github.com/99designs/gqlgen/graphql/playground"
)

// The GraphiQL page and its scripts are served from the binary: Trellis
// works without reaching any CDN. graphiql/update.sh rebuilds the assets
// from the npm registry; the hashes are the ones gqlgen pins for the same
// versions, and TestGraphiQLAssetsMatchIntegrity checks them.
//
//go:embed graphiql/*.js graphiql/*.css graphiql/LICENSES.txt
var graphiqlAssets embed.FS

const assetPath = "/graphiql/"

// graphiqlIntegrity maps each asset to its subresource integrity hash.
var graphiqlIntegrity = map[string]string{
	"graphiql.min.js":             "sha256-hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs=",
	"graphiql.min.css":            "sha256-MEh+B2NdMSpj9kexQNN3QKc8UzMrCXW/Sx/phcpuyIU=",
	"react.production.min.js":     "sha256-S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY=",
	"react-dom.production.min.js": "sha256-IXWO0ITNDjfnNXIu5POVfqlgYoop36bDzhodR6LW5Pc=",
}

// graphiqlPage serves GraphiQL for endpoint, its headers pre-filled.
func graphiqlPage(endpoint string, headers map[string]string) http.Handler {
	return playground.Handler("Trellis", endpoint,
		playground.WithGraphiqlVersion(assetPath+"graphiql.min.js", assetPath+"graphiql.min.css",
			graphiqlIntegrity["graphiql.min.js"], graphiqlIntegrity["graphiql.min.css"]),
		playground.WithGraphiqlReactVersion(assetPath+"react.production.min.js", assetPath+"react-dom.production.min.js",
			graphiqlIntegrity["react.production.min.js"], graphiqlIntegrity["react-dom.production.min.js"]),
		playground.WithGraphiqlEnablePluginExplorer(false),
		playground.WithGraphiqlUiHeaders(headers),
	)
}

// graphiqlFiles serves the embedded assets, cacheable for a day.
func graphiqlFiles() http.Handler {
	sub, err := fs.Sub(graphiqlAssets, "graphiql")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	files := http.StripPrefix(assetPath, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
}
