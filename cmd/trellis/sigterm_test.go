package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// When TRELLIS_TEST_ARGS is set, the test binary is the trellis command
// (as main would run it) with those arguments, for tests that need a real
// process to signal.
const childArgsEnv = "TRELLIS_TEST_ARGS"

func TestMain(m *testing.M) {
	if args := os.Getenv(childArgsEnv); args != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := newApp().Run(ctx, append([]string{"trellis"}, strings.Fields(args)...))
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, "trellis:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSIGTERMUnderLoadLosesNothing: writers hammer a real trellis process;
// SIGTERM arrives mid-stream; the process drains and exits cleanly, and
// after a restart every write it acknowledged is there.
func TestSIGTERMUnderLoadLosesNothing(t *testing.T) {
	data := t.TempDir()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), childArgsEnv+"=serve --dev --addr 127.0.0.1:0 --grpc-addr= --data "+data)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	baseCh := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		re := regexp.MustCompile(`serves (http://[0-9.:]+)/graphql`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				baseCh <- m[1]
			}
		}
	}()
	var base string
	select {
	case base = <-baseCh:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("trellis did not start")
	}
	token := devToken(t, base, "alice")
	graphql(t, base, token, `mutation { createProject(input: {name: "load"}) { consistencyToken } }`)

	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("w%d-%d", w, i)
				if tryRegister(base, token, id) {
					mu.Lock()
					acked[id] = true
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(400 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("trellis exited badly after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("trellis did not stop within 30s of SIGTERM")
	}
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no write was acknowledged before SIGTERM: the test exercised nothing")
	}

	base, stopServe := startServe(t, data)
	defer func() { _ = stopServe() }()
	for id := range acked {
		got := graphql(t, base, token, fmt.Sprintf(`{ artifact(kind: JOB, id: %q) { id } }`, id))
		if got["artifact"] == nil {
			t.Fatalf("acknowledged write %s was lost", id)
		}
	}
	t.Logf("%d acknowledged writes, all present after SIGTERM and restart", len(acked))
}

// tryRegister registers a job and reports whether the server acknowledged it.
func tryRegister(base, token, id string) bool {
	body := fmt.Sprintf(`{"query":"mutation { registerArtifact(input: {project: \"load\", kind: JOB, id: \"%s\"}) { consistencyToken } }"}`, id)
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var out struct {
		Data   map[string]any `json:"data"`
		Errors []any          `json:"errors"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		return false
	}
	return len(out.Errors) == 0 && out.Data["registerArtifact"] != nil
}
