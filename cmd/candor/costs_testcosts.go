//go:build testcosts

package main

import (
	"fmt"
	"io"

	"github.com/candorcloud/candor/internal/account"
	"github.com/candorcloud/candor/internal/server"
	"github.com/candorcloud/candor/internal/store"
)

// This file exists only in builds with the testcosts tag, made by the
// tests that run candor serve as real processes with a thousand emulated
// phones on a small machine (test/cluster): the server's Argon2id cost for
// auth keys and the weakest device-side cost it accepts at signup are
// lowered to what the in-process tests use, which a configuration file
// cannot do (limits.auth_hash allows no less than OWASP's). No normal
// build contains it: a release build hashes at full cost whatever its
// configuration says.
func testCosts(cfg *server.Config, warn io.Writer) {
	cfg.Account.Hash = account.Argon2{Time: 1, MemoryKiB: 64, Threads: 1}
	cfg.Account.MinKDF = store.KDF{Time: 1, MemoryKiB: 8, Threads: 1}
	fmt.Fprintln(warn, "WARNING: a testcosts build: passwords are hashed at a test cost. Not for production.")
}
