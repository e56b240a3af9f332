// The local image registry for the real node: distribution's registry from its Go
// module, with only the filesystem storage driver compiled in (the stock binary links
// every cloud provider's storage SDK, which the plane never uses).
package main

import (
	"os"

	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem"

	"github.com/distribution/distribution/v3/registry"
)

func main() {
	// `registry serve <config.yml>`, as the stock command.
	if err := registry.RootCmd.Execute(); err != nil {
		os.Exit(1)
	}
}
