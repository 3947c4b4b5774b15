// Command etcd is a thin wrapper that builds the upstream etcd server for
// serin's end-to-end tests. It mirrors etcd's own main.go.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
