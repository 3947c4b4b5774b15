// Package release names the cert-manager release the commands here were built from.
package release

import "runtime/debug"

const module = "github.com/cert-manager/cert-manager"

// Version is the cert-manager module version in this binary's build information.
func Version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	for _, dep := range info.Deps {
		if dep.Path == module {
			return dep.Version
		}
	}
	return "unknown"
}
