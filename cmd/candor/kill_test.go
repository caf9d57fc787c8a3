package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/candorcloud/candor"
	"github.com/candorcloud/candor/api"
	"github.com/candorcloud/candor/client"
	"github.com/candorcloud/candor/client/operator"
	"github.com/candorcloud/candor/internal/server/servertest"
)

// luhn completes a 14-digit IMEI body with its check digit.
func luhn(body string) string {
	sum := 0
	for i, r := range body {
		d := int(r - '0')
		if i%2 == 1 {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return body + fmt.Sprint((10-sum%10)%10)
}

// process is a production candor server run as its own process, so that it
// can be killed with SIGKILL.
type process struct {
	t    *testing.T
	data string
	addr string
	cmd  *exec.Cmd
	out  bytes.Buffer
	mu   sync.Mutex
}

func (p *process) start() {
	t := p.t
	t.Helper()
	p.cmd = exec.Command(os.Args[0], "serve", "--data", p.data, "--addr", p.addr, "--log-level", "warn")
	p.cmd.Env = append(os.Environ(), "CANDOR_TEST_RUN_MAIN=1")
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := p.cmd
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; {
		if resp, err := http.Get("http://" + p.addr + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not come up: %s", p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (p *process) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

// A country's migration killed with SIGKILL in the middle, twice, and run
// again after each restart, ends with every account in the target region,
// every record there exactly once, and nothing left in the source.
func TestMigrationSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	url := "http://" + addr
	srv := &process{t: t, data: t.TempDir(), addr: addr}
	srv.start()

	op, err := operator.New(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	init, err := op.Init(ctx, 2, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	unseal := func() {
		t.Helper()
		for _, share := range init.Shares {
			if st, err := op.Status(ctx); err != nil || !st.Sealed {
				return
			}
			if _, err := op.Unseal(ctx, share); err != nil {
				t.Fatal(err)
			}
		}
	}
	unseal()
	boot, _ := operator.New(url, init.StaffToken, nil)
	adm, err := boot.AddStaff(ctx, "adm", []string{"admin"})
	if err != nil {
		t.Fatal(err)
	}
	admin, _ := operator.New(url, adm.Token, nil)

	const accounts, contacts = 3, 600
	// The weakest device-side cost a production server accepts: the test is
	// about the migration, not the password.
	floor := api.KDF{Time: 2, MemoryKiB: 19 * 1024, Threads: 1}
	cheap := []client.Option{client.WithKDF(floor), client.WithKDFFloor(floor)}
	var ids []candor.AccountID
	for i := range accounts {
		c, err := client.Init(t.TempDir(), client.Config{Server: url, IMEI: luhn(fmt.Sprintf("35693803564%03d", i)),
			Phone: fmt.Sprintf("+9198000000%02d", i), Country: "IN"}, cheap...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Signup(ctx, fmt.Sprintf("kill-%d@example.invalid", i), "correct horse battery staple"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.SetConsent(ctx, candor.Contacts, true); err != nil {
			t.Fatal(err)
		}
		for j := range contacts {
			c.Contacts().Add(fmt.Sprintf("Person %d-%d", i, j), fmt.Sprintf("+91970%07d", j))
		}
		if _, err := c.Sync(ctx, nil); err != nil {
			t.Fatal(err)
		}
		st, _ := c.Status()
		ids = append(ids, st.Account)
	}

	migrate := func(kill bool) api.Migration {
		t.Helper()
		job, err := admin.StartMigration(ctx, api.MigrateRequest{Country: "IN", To: "sg"})
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
			if job, err = admin.Migration(ctx, job.ID); err != nil {
				t.Fatal(err)
			}
			if kill && (job.Done >= 1 || job.Finished != nil) {
				srv.kill()
				return job
			}
			if job.Finished != nil {
				return job
			}
			time.Sleep(2 * time.Millisecond)
		}
		t.Fatalf("the migration did not finish: %+v", job)
		return job
	}
	midway := 0
	for round := range 2 {
		job := migrate(true)
		t.Logf("killed in round %d after %d of %d accounts", round+1, job.Done, job.Total)
		if job.Finished == nil {
			midway++
		}
		srv.start()
		unseal()
	}
	if midway == 0 {
		t.Fatal("the migration finished before either kill: the test killed nothing in the middle")
	}
	job := migrate(false)
	if job.Error != "" || job.Done != job.Total || job.Total != accounts {
		t.Fatalf("the last run: %+v", job)
	}

	for i, id := range ids {
		if n := servertest.CountRows(t, srv.data, "in", "SELECT count(*) FROM records WHERE account = ?", string(id)); n != 0 {
			t.Errorf("account %d: %d records left in the source", i, n)
		}
		if n := servertest.CountRows(t, srv.data, "sg", "SELECT count(*) FROM records WHERE account = ?", string(id)); n != contacts {
			t.Errorf("account %d: %d records in the target, want %d exactly once", i, n, contacts)
		}
		// A new phone of the account reads every contact back.
		c, err := client.Init(t.TempDir(), client.Config{Server: url, IMEI: luhn(fmt.Sprintf("35693803565%03d", i)),
			Phone: fmt.Sprintf("+9198000000%02d", i), Country: "IN"}, cheap...)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Login(ctx, fmt.Sprintf("kill-%d@example.invalid", i), "correct horse battery staple"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Sync(ctx, nil); err != nil {
			t.Fatal(err)
		}
		got, _ := c.Contacts().List()
		if st, _ := c.Status(); len(got) != contacts || st.Region != "sg" {
			t.Errorf("account %d: a new phone sees %d contacts in region %s, want %d in sg", i, len(got), st.Region, contacts)
		}
	}
}
