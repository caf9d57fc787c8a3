package wasm_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/candorcloud/candor/internal/web/wasm"
)

// TestCommittedFilesAreCurrent rebuilds candor.wasm.gz and wasm_exec.js
// from the source under test and compares them with the embedded ones: a
// change to client/login or cmd/candor-wasm without `make wasm` fails here.
func TestCommittedFilesAreCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/candor-wasm")
	}
	if runtime.Version() != wasm.GoVersion {
		t.Skipf("the committed wasm was built by %s and this is %s: builds of two Go versions differ", wasm.GoVersion, runtime.Version())
	}
	dir := t.TempDir()
	if out, err := exec.Command("sh", "generate.sh", dir).CombinedOutput(); err != nil {
		t.Fatalf("generate.sh: %v\n%s", err, out)
	}
	fresh, err := os.ReadFile(filepath.Join(dir, "candor.wasm.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(unzip(t, fresh), unzip(t, wasm.Gzip)) {
		t.Fatal("internal/web/wasm/candor.wasm.gz is not built from the current cmd/candor-wasm and client/login: run make wasm and commit it")
	}
	js, err := os.ReadFile(filepath.Join(dir, "wasm_exec.js"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(js, wasm.ExecJS) {
		t.Fatal("internal/web/wasm/wasm_exec.js is not this Go distribution's: run make wasm and commit it")
	}
}

func unzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
