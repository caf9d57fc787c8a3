//go:build !testcosts

package main

import (
	"io"

	"github.com/candorcloud/candor/internal/server"
)

// testCosts leaves a normal build's hashing costs as the configuration
// sets them. A build with the testcosts tag lowers them
// (costs_testcosts.go).
func testCosts(*server.Config, io.Writer) {}
