// Command skiff is the one Skiff binary: server, agent and kubectl.
package main

import (
	"os"

	"github.com/skiffhq/skiff/pkg/cli"
)

func main() {
	os.Exit(cli.Main(os.Args))
}
