package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/candorcloud/candor/test/internal/testenv"
)

// maxExposure is the highest `systemd-analyze security` exposure the unit
// may reach (0 is fully confined, 10 unconfined); it measures 1.2.
const maxExposure = 3.0

// unitWithBinary writes packaging/candor.service to a fresh folder with its
// ExecStart pointing at bin, so that verify checks a real executable.
func unitWithBinary(t *testing.T, bin string) string {
	t.Helper()
	unit := testenv.ReadRepo(t, "packaging/candor.service")
	if !strings.Contains(unit, "ExecStart=/usr/local/bin/candor serve --config /etc/candor/candor.json\n") {
		t.Fatal("the unit no longer runs /usr/local/bin/candor serve --config /etc/candor/candor.json")
	}
	unit = strings.Replace(unit, "ExecStart=/usr/local/bin/candor ", "ExecStart="+bin+" ", 1)
	path := filepath.Join(t.TempDir(), "candor.service")
	if err := os.WriteFile(path, []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSystemdUnitVerify runs `systemd-analyze verify` on the unit: any
// warning (an unknown setting, a misspelt value) fails.
func TestSystemdUnitVerify(t *testing.T) {
	sa := needTool(t, "systemd-analyze")
	path := unitWithBinary(t, candorBinary(t))
	out, err := exec.Command(sa, "verify", "--man=no", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// TestSystemdUnitSecurity scores the unit with `systemd-analyze security`
// and fails above maxExposure; it also names the settings the score would
// hide the loss of.
func TestSystemdUnitSecurity(t *testing.T) {
	sa := needTool(t, "systemd-analyze")
	path := unitWithBinary(t, "/bin/true")
	cmd := exec.Command(sa, "security", "--offline=true", "--no-pager", filepath.Base(path))
	cmd.Dir = filepath.Dir(path)
	out, err := cmd.CombinedOutput()
	m := regexp.MustCompile(`Overall exposure level for candor\.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no exposure level (%v):\n%s", err, out)
	}
	score, perr := strconv.ParseFloat(string(m[1]), 64)
	if perr != nil {
		t.Fatal(perr)
	}
	t.Logf("systemd-analyze security: exposure %.1f (the bar is %.1f)", score, maxExposure)
	if score > maxExposure {
		t.Fatalf("exposure %.1f is above %.1f:\n%s", score, maxExposure, out)
	}
	unit := testenv.ReadRepo(t, "packaging/candor.service")
	for _, want := range []string{
		"NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
		"PrivateDevices=yes", "ProtectKernelTunables=yes", "ProtectKernelModules=yes",
		"ProtectKernelLogs=yes", "ProtectControlGroups=yes",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX", "RestrictNamespaces=yes",
		"LockPersonality=yes", "MemoryDenyWriteExecute=yes", "SystemCallFilter=@system-service",
		"CapabilityBoundingSet=\n", "StateDirectory=candor", "ReadWritePaths=/var/lib/candor\n",
		"UMask=0077", "Restart=on-failure", "User=candor\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("the unit lacks %q", strings.TrimSpace(want))
		}
	}
	if n := strings.Count(unit, "ReadWritePaths="); n != 1 {
		t.Errorf("the unit has %d ReadWritePaths lines; only the data folder may be writable", n)
	}
}
