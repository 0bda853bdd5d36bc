package agent_test

import (
	"github.com/skiffhq/skiff/pkg/agent"
	streaming "github.com/skiffhq/skiff/pkg/streaming/server"
)

// The agent is the streaming server's Runtime.
var (
	_ streaming.Runtime         = (*agent.Agent)(nil)
	_ streaming.RunningReporter = (*agent.Agent)(nil)
)
