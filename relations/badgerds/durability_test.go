package badgerds_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/authzed/spicedb/pkg/datastore"
	"github.com/authzed/spicedb/pkg/tuple"

	"github.com/seed-6461fa00/trellis/relations/badgerds"
)

// When TRELLIS_KILL_DIR is set, the test binary is TestSurvivesKill9's
// child: it writes transactions of three relationships each into that
// directory forever, printing "ack <n> <revision>" after each
// acknowledged commit, until it is killed.
const killDirEnv = "TRELLIS_KILL_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(killDirEnv); dir != "" {
		runKillWriter(dir)
	}
	os.Exit(m.Run())
}

func runKillWriter(dir string) {
	start, _ := strconv.Atoi(os.Getenv("TRELLIS_KILL_START"))
	ds, err := badgerds.New(context.Background(), dir)
	if err != nil {
		fmt.Println("open-error", err)
		os.Exit(3)
	}
	out := bufio.NewWriter(os.Stdout)
	for n := start; ; n++ {
		rev, err := ds.ReadWriteTx(context.Background(), func(ctx context.Context, rwt datastore.ReadWriteTransaction) error {
			return rwt.WriteRelationships(ctx, batch(n))
		})
		if err != nil {
			fmt.Println("write-error", err)
			os.Exit(4)
		}
		fmt.Fprintf(out, "ack %d %s\n", n, rev)
		_ = out.Flush()
	}
}

// batch is transaction n: three relationships that must appear together.
func batch(n int) []tuple.RelationshipUpdate {
	doc := "doc" + strconv.Itoa(n)
	return []tuple.RelationshipUpdate{
		tuple.Create(tuple.MustParse("document:" + doc + "#viewer@user:alice")),
		tuple.Create(tuple.MustParse("document:" + doc + "#editor@user:bob")),
		tuple.Create(tuple.MustParse("document:" + doc + "#owner@user:carol")),
	}
}

// TestSurvivesKill9 kills a writing process at random moments and checks
// that every acknowledged transaction survives whole, that no transaction
// survives in part, and that the store reopens cleanly every time.
func TestSurvivesKill9(t *testing.T) {
	dir := t.TempDir()
	next := 0
	const rounds = 24
	for round := range rounds {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), killDirEnv+"="+dir, "TRELLIS_KILL_START="+strconv.Itoa(next))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := map[int]bool{}
		lines := make(chan string)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Once it writes, let it go on for a random while, then kill it
		// without warning.
		var deadline <-chan time.Time
		startup := time.After(30 * time.Second)
	read:
		for {
			select {
			case <-startup:
				if deadline == nil {
					t.Fatalf("round %d: the writer acknowledged nothing in 30s", round)
				}
			case line, ok := <-lines:
				if !ok {
					break read
				}
				if deadline == nil {
					deadline = time.After(time.Duration(rand.IntN(150)) * time.Millisecond)
				}
				fields := strings.Fields(line)
				if len(fields) != 3 || fields[0] != "ack" {
					t.Fatalf("round %d: child said %q", round, line)
				}
				n, _ := strconv.Atoi(fields[1])
				acked[n] = true
			case <-deadline:
				break read
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		// Drain what the child printed before it died: those were acked too.
		for line := range lines {
			if fields := strings.Fields(line); len(fields) == 3 && fields[0] == "ack" {
				n, _ := strconv.Atoi(fields[1])
				acked[n] = true
			}
		}
		_ = cmd.Wait()

		highest := checkStore(t, dir, round, acked)
		t.Logf("round %d: %d acknowledged, %d in store", round, len(acked), highest+1)
		next = highest + 1
	}
	if next < rounds {
		t.Fatalf("only %d transactions were acknowledged over %d rounds: the test did not exercise writes", next, rounds)
	}
}

// checkStore reopens dir and verifies it; it returns the highest
// transaction number found.
func checkStore(t *testing.T, dir string, round int, acked map[int]bool) int {
	t.Helper()
	ds, err := badgerds.New(context.Background(), dir)
	if err != nil {
		t.Fatalf("round %d: reopen after kill -9: %v", round, err)
	}
	defer ds.Close()
	head, err := ds.HeadRevision(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	it, err := ds.SnapshotReader(head.Revision).QueryRelationships(context.Background(), datastore.RelationshipsFilter{OptionalResourceType: "document"})
	if err != nil {
		t.Fatal(err)
	}
	perDoc := map[int]int{}
	highest := -1
	for rel, err := range it {
		if err != nil {
			t.Fatalf("round %d: read: %v", round, err)
		}
		n, err := strconv.Atoi(strings.TrimPrefix(rel.Resource.ObjectID, "doc"))
		if err != nil {
			t.Fatalf("round %d: unexpected resource %s", round, rel.Resource.ObjectID)
		}
		perDoc[n]++
		highest = max(highest, n)
	}
	for n, count := range perDoc {
		if count != 3 {
			t.Fatalf("round %d: transaction %d survived in part (%d of 3 relationships)", round, n, count)
		}
	}
	for n := range acked {
		if perDoc[n] != 3 {
			t.Fatalf("round %d: acknowledged transaction %d was lost", round, n)
		}
	}
	return highest
}
