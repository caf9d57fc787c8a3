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
	p.cmd.Stdout, p.cmd.Stderr = p, p
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
			t.Fatalf("the server did not come up: %s", p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Write collects what the server writes.
func (p *process) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

// output is what the server wrote so far.
func (p *process) output() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bytes.Clone(p.out.Bytes())
}

func (p *process) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
}

// A country's migration killed with SIGKILL in the middle, twice, is taken
// over by the restarted server once its lease expires and ends with every
// account in the target region, every record there exactly once, and
// nothing left in the source.
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

	// follow follows job id until it finishes or, with kill, until it has
	// moved an account, and then kills the server.
	follow := func(id string, kill bool) api.Migration {
		t.Helper()
		for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); {
			job, err := admin.Migration(ctx, id)
			if err != nil {
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
		t.Fatalf("the migration %s did not finish", id)
		return api.Migration{}
	}
	start := func() string {
		t.Helper()
		job, err := admin.StartMigration(ctx, api.MigrateRequest{Country: "IN", To: "sg"})
		if err != nil {
			t.Fatal(err)
		}
		return job.ID
	}
	midway, id := 0, ""
	for round := range 2 {
		if id == "" {
			id = start()
		}
		job := follow(id, true)
		t.Logf("killed in round %d after %d of %d accounts", round+1, job.Done, job.Total)
		if job.Finished == nil {
			midway++
		} else {
			id = ""
		}
		srv.start()
		unseal()
		if id != "" {
			// The killed job is still the directory's: the restarted server
			// takes it over once its lease expires, and no other may start.
			if _, err := admin.StartMigration(ctx, api.MigrateRequest{Country: "IN", To: "sg"}); !candor.Is(err, candor.Conflict) {
				t.Fatalf("a job started while the killed one is unfinished: %v, want Conflict", err)
			}
		}
	}
	if midway == 0 {
		t.Fatal("the migration finished before either kill: the test killed nothing in the middle")
	}
	if id == "" {
		id = start()
	}
	job := follow(id, false)
	if job.Error != "" || job.Done != job.Total || job.Total != accounts {
		t.Fatalf("the last run: %+v", job)
	}
	if !bytes.Contains(srv.output(), []byte("took over a migration")) {
		t.Errorf("the restarted server did not log taking the job over:\n%s", srv.output())
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
